"""`lion check --probe`: one look at every endpoint before a run pays for anything.

First GET {base_url}/models once per distinct (base_url, key), free, to confirm every role's model is
served; only when all of that passed, one chat request of max_tokens 1 per distinct (base_url, key,
model). A key never appears in what comes back: server text is scrubbed before it is shortened.

Also the structured-replies probe (`find_reply_shape`): a request of a few tokens under a tiny JSON
schema in each shape of response_format (core/reply_schemas.py REPLY_SHAPES) until one is answered
with JSON that fits; the engine remembers the verdict per endpoint and model, `lion check --probe`
shows it (`probe_reply_shapes`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lion_cli.core.api import EndpointSpec
from lion_cli.core.redact import redact_and_cut
from lion_cli.core.reply_schemas import REPLY_SHAPES, ReplySchema, ReplyShape
from lion_cli.core.value_checks import shown_url
from lion_cli.llm.wire import not_found_hint, parse_completion, server_message

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
        return f"{role}.base_url", f"{url} answered 404 (not found){not_found_hint(spec.base_url)}"
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


SCHEMA_PROBE = ReplySchema("probe", {"type": "object", "properties": {"ok": {"type": "boolean"}},
                                     "required": ["ok"], "additionalProperties": False})
SCHEMA_PROBE_MESSAGES = [{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}]
SCHEMA_PROBE_MAX_TOKENS = 16   # {"ok": true} is about five tokens


@dataclass(frozen=True, slots=True)
class SchemaProbe:
    accepted: bool          # the endpoint answered under the schema with JSON that fits it
    conclusive: bool        # an answer or a refusal naming the parameter: worth remembering
    detail: str             # what was seen, in one line (redacted)
    status: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _probe_answer(resp: httpx.Response, model: str, shape: ReplyShape) -> SchemaProbe:
    """A 200: JSON under the schema, or a server that ignored response_format (free text back)."""
    result = parse_completion(resp.text, model, 0)
    if result is None:
        return SchemaProbe(False, False, "HTTP 200 without a chat completion", 200)
    used = {"status": 200, "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}
    try:
        value = json.loads(result.text)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("ok"), bool):
        return SchemaProbe(True, True, f"answered JSON under {shape}", **used)
    if result.truncated:  # cut at the probe's few tokens: nothing learnt
        return SchemaProbe(False, False, "the probe's reply was cut at max_tokens", **used)
    return SchemaProbe(False, True, f"ignored response_format (answered free text under {shape})", **used)


async def probe_structured(client: httpx.AsyncClient, spec: EndpointSpec, headers: dict[str, str],
                           secrets: tuple[str, ...], shape: ReplyShape = "json_schema") -> SchemaProbe:
    """Whether the endpoint answers under a JSON schema sent in `shape`. A refusal naming the parameter
    is a conclusive no, whatever its status (llama.cpp's server reports its request validation error
    as a 500); no answer or any other refusal says nothing (not remembered)."""
    url = spec.base_url.rstrip("/") + "/chat/completions"
    payload = {"model": spec.model, "messages": SCHEMA_PROBE_MESSAGES, "max_tokens": SCHEMA_PROBE_MAX_TOKENS,
               "temperature": 0.0, "response_format": SCHEMA_PROBE.response_format(shape)}
    try:
        resp = await client.post(url, json=payload, headers=headers, timeout=min(PROBE_TIMEOUT_S, spec.timeout_s))
    except httpx.HTTPError as exc:
        return SchemaProbe(False, False, f"no answer ({type(exc).__name__})")
    if resp.status_code == 200:
        return _probe_answer(resp, spec.model, shape)
    message = f"HTTP {resp.status_code}: {server_message(resp, secrets)}"
    named = any(word in resp.text.lower() for word in ("response_format", "json_schema", "json_object"))
    return SchemaProbe(False, resp.status_code >= 400 and named, message, resp.status_code)


@dataclass(frozen=True, slots=True)
class ShapeVerdict:
    shape: ReplyShape | None   # the shape the endpoint answered under; None: free text only
    conclusive: bool           # worth remembering: a shape answered, or every shape refused or ignored
    detail: str                # what each probe saw, in one line


async def find_reply_shape(probe: Callable[[ReplyShape], Awaitable[SchemaProbe]]) -> ShapeVerdict:
    """Each shape in turn until one is answered with JSON that fits. An endpoint that did not answer
    at all is not asked again in the other shape (nothing would be learnt)."""
    seen: list[str] = []
    conclusive = True
    for shape in REPLY_SHAPES:
        found = await probe(shape)
        if found.accepted:
            return ShapeVerdict(shape, True, "; ".join([*seen, found.detail]))
        seen.append(f"{shape}: {found.detail}")
        conclusive = conclusive and found.conclusive
        if found.status is None:
            break
    return ShapeVerdict(None, conclusive, "; ".join(seen))


def _shape_note(roles: list[str], spec: EndpointSpec, verdict: ShapeVerdict) -> str:
    where = f"'{spec.model}' at {shown_url(spec.base_url)}"
    if verdict.shape is not None:
        found = f"structured replies in the {verdict.shape} shape of response_format"
    elif verdict.conclusive:
        found = "no structured replies (free text)" + (
            '; structured = "on" asks for them anyway' if spec.structured == "on" else "")
    else:
        found = "structured replies undecided (the run probes again)"
    return f"{', '.join(roles)}: {where}: {found} ({verdict.detail})"


async def _reply_shapes(specs: Mapping[str, EndpointSpec], keys: Mapping[str, str]) -> list[str]:
    by_endpoint: dict[tuple[str, str, str], list[str]] = {}
    for role, spec in specs.items():
        by_endpoint.setdefault(spec.limit_key, []).append(role)
    notes = []
    async with httpx.AsyncClient(trust_env=False) as client:
        for roles in by_endpoint.values():
            spec, key = specs[roles[0]], keys[roles[0]]
            secrets = (key,) if key else ()

            async def one(shape: ReplyShape, spec: EndpointSpec = spec, key: str = key,
                          secrets: tuple[str, ...] = secrets) -> SchemaProbe:
                return await probe_structured(client, spec, _headers(key), secrets, shape)

            notes.append(_shape_note(roles, spec, await find_reply_shape(one)))
    return notes


def probe_reply_shapes(specs: Mapping[str, EndpointSpec], keys: Mapping[str, str]) -> list[str]:
    """One line per distinct endpoint of `specs` (the roles that ask for structured replies): which
    shape of response_format it answers under, as the run's probe would find it (nothing remembered)."""
    return asyncio.run(_reply_shapes(specs, keys))
