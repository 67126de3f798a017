"""`lion check --probe`: one look at every endpoint before a run pays for anything.

First GET {base_url}/models once per distinct (base_url, key), free, to confirm every role's model is
served; only when all of that passed, one chat request of max_tokens 1 per distinct (base_url, key,
model). A key never appears in what comes back: server text is scrubbed before it is shortened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from lion_cli.core.api import EndpointSpec
from lion_cli.core.redact import redact_and_cut
from lion_cli.core.value_checks import shown_url

PROBE_TIMEOUT_S = 20.0
SHOWN_CHARS = 200
PROBE_MESSAGES = [{"role": "user", "content": "Reply with OK."}]

# (role.key, message): which lion.toml key the problem is about, and what is wrong.
Finding = tuple[str, str]


def _scrub(text: str, api_key: str) -> str:
    """Redacted (the key whole or in part, credential shapes), then shortened."""
    return redact_and_cut(" ".join(text.split()), [api_key], SHOWN_CHARS)


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _refusal(role: str, spec: EndpointSpec, url: str, resp: httpx.Response, api_key: str) -> Finding:
    """A non-200 answer, in terms of the lion.toml key that fixes it."""
    body = _scrub(resp.text, api_key) or "(empty body)"
    if resp.status_code in (401, 403):
        if not spec.api_key_env:
            return f"{role}.api_key_env", f"{url} needs an API key ({resp.status_code}): name its variable here"
        return f"{role}.api_key_env", f"{url} refused the key in ${spec.api_key_env} ({resp.status_code}: {body})"
    if resp.status_code == 404:
        hint = ("" if spec.base_url.rstrip("/").endswith("/v1")
                else "; base_url is usually the API root ending in /v1, e.g. https://api.openai.com/v1")
        return f"{role}.base_url", f"{url} answered 404 (not found){hint}"
    return f"{role}.base_url", f"{url} answered {resp.status_code}: {body}"


def _get(client: httpx.Client, method: str, url: str, api_key: str, **kw: Any) -> httpx.Response | str:
    try:
        return client.request(method, url, headers=_headers(api_key), **kw)
    except httpx.HTTPError as exc:
        return _scrub(f"cannot reach {shown_url(url)} ({type(exc).__name__}: {exc})", api_key)


def _listed_models(client: httpx.Client, role: str, spec: EndpointSpec, api_key: str) -> list[str] | Finding:
    url = spec.base_url.rstrip("/") + "/models"
    resp = _get(client, "GET", url, api_key)
    if isinstance(resp, str):
        return f"{role}.base_url", resp
    if resp.status_code != 200:
        return _refusal(role, spec, shown_url(url), resp, api_key)
    try:
        data = resp.json().get("data")
        return [str(m["id"]) for m in data]
    except (ValueError, AttributeError, KeyError, TypeError):
        return f"{role}.base_url", f"{shown_url(url)} did not answer with a model list (an OpenAI-compatible API?)"


def _tiny_chat(client: httpx.Client, role: str, spec: EndpointSpec, api_key: str) -> Finding | None:
    url = spec.base_url.rstrip("/") + "/chat/completions"
    payload = {"model": spec.model, "messages": PROBE_MESSAGES, "max_tokens": 1, "temperature": 0.0}
    resp = _get(client, "POST", url, api_key, json=payload)
    if isinstance(resp, str):
        return f"{role}.base_url", resp
    if resp.status_code != 200:
        return _refusal(role, spec, shown_url(url), resp, api_key)
    try:
        choices = resp.json()["choices"]
        if not isinstance(choices, list) or not choices:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return f"{role}.model", f"{shown_url(url)} answered 200 without a completion for model '{spec.model}'"
    return None


def _model_findings(client: httpx.Client, specs: Mapping[str, EndpointSpec],
                    keys: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    listed: dict[tuple[str, str], list[str] | Finding] = {}
    for role, spec in specs.items():
        where = (spec.base_url.rstrip("/"), spec.api_key_env)
        if where not in listed:
            listed[where] = answer = _listed_models(client, role, spec, keys[role])
            if isinstance(answer, tuple):
                findings.append(answer)
        models = listed[where]
        if isinstance(models, list) and spec.model not in models:
            shown = ", ".join(models[:8]) + (f" and {len(models) - 8} more" if len(models) > 8 else "")
            findings.append((f"{role}.model", f"'{spec.model}' is not among the models {shown_url(where[0])} "
                                              f"serves ({shown or 'none listed'})"))
    return findings


def probe_endpoints(specs: Mapping[str, EndpointSpec], keys: Mapping[str, str]) -> list[Finding]:
    """specs and the API key of each by role ("" = none). [] when every endpoint answered."""
    timeout = min([PROBE_TIMEOUT_S, *(s.timeout_s for s in specs.values())])
    with httpx.Client(trust_env=False, timeout=timeout) as client:
        findings = _model_findings(client, specs, keys)
        if findings:
            return findings  # nothing paid while anything is wrong
        asked: set[tuple[str, str, str]] = set()
        for role, spec in specs.items():
            if spec.limit_key not in asked:
                asked.add(spec.limit_key)
                finding = _tiny_chat(client, role, spec, keys[role])
                if finding:
                    findings.append(finding)
    return findings
