"""The endpoint checks that need the environment or the network: each key variable is set, each
request fits the provider's token limit, and (with --probe) each endpoint answers."""

from __future__ import annotations

import os
from collections.abc import Mapping

from lion_cli.config import Settings
from lion_cli.core.api import EndpointSpec
from lion_cli.core.types import API_ROLES, ENDPOINT_ROLES, Role
from lion_cli.core.value_checks import shown_url

Finding = tuple[str, str]


def endpoint_specs(settings: Settings, roles: tuple[Role, ...] = API_ROLES) -> dict[str, EndpointSpec]:
    return {role.value: settings.endpoint(role) for role in roles}


def key_findings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """One finding per unset variable, naming every loop role that needs it (the judge's is a note:
    judge_key_notes)."""
    env = os.environ if environ is None else environ
    users: dict[str, list[str]] = {}
    for role, spec in endpoint_specs(settings).items():
        if spec.api_key_env and not env.get(spec.api_key_env):
            users.setdefault(spec.api_key_env, []).append(role)
    return [(f"{roles[0]}.api_key_env",
             f"environment variable {name} is not set (it must hold the API key for "
             f"{', '.join(roles)}; `export {name}=...`, or api_key_env = \"\" to send no key)")
            for name, roles in users.items()]


def limit_findings(settings: Settings) -> list[Finding]:
    """A request reserves prompt + max_tokens against tpm (as providers count it): at tpm ≤ max_tokens
    not one request fits in a minute."""
    return [(f"{role}.max_tokens", f"{spec.max_tokens} does not fit in tpm = {spec.tpm} (every request counts "
                                   f"its max_tokens against the tokens per minute; expected max_tokens < tpm)")
            for role, spec in endpoint_specs(settings, ENDPOINT_ROLES).items() if spec.max_tokens >= spec.tpm]


def judge_key_notes(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """The judge's key variable unset: a note, not a problem, since only `lion eval vicuna` calls the
    judge (which refuses to start without it) and a run must not wait on a key it never uses."""
    env = os.environ if environ is None else environ
    name = settings.judge.api_key_env
    if not name or env.get(name):
        return []
    return [f"judge.api_key_env: environment variable {name} is not set; `lion eval vicuna` needs it for the "
            f"judge ({settings.judge.model}); `export {name}=...`, or api_key_env = \"\" to send no key"]


def price_notes(settings: Settings) -> list[str]:
    """A price left at "auto" for a hosted model the price table does not know: the spend shown is
    then priced at the default, a guess worth replacing by the provider's price."""
    notes = []
    for role, spec in endpoint_specs(settings, ENDPOINT_ROLES).items():
        prices = spec.prices
        if prices.source == "default":
            notes.append(f"{role}: no known price for model '{spec.model}' at {shown_url(spec.base_url)}; spend is "
                         f"counted at ${prices.input_per_1k:g} / ${prices.output_per_1k:g} per 1K input / output "
                         f"tokens (set {role}.price_input_per_1k and price_output_per_1k to the provider's prices)")
    return notes


def _keys(specs: Mapping[str, EndpointSpec], environ: Mapping[str, str] | None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {role: env.get(spec.api_key_env, "") if spec.api_key_env else "" for role, spec in specs.items()}


def _probed_roles(settings: Settings, roles: tuple[Role, ...], environ: Mapping[str, str] | None) -> tuple[Role, ...]:
    """`roles` and the judge, when its key is at hand (without it judge_key_notes has said so already)."""
    return (*roles, Role.JUDGE) if not judge_key_notes(settings, environ) else roles


def probe_findings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Finding]:
    from lion_cli.llm.probe import probe_endpoints

    specs = endpoint_specs(settings, _probed_roles(settings, API_ROLES, environ))
    return probe_endpoints(specs, _keys(specs, environ))


# The loop's roles whose replies may come under a JSON schema (the judge's shape is found when
# `lion eval vicuna` first asks, and remembered like theirs).
SCHEMA_ROLES = (Role.REFEREE, Role.GENERATOR)


def reply_shape_notes(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Which shape of response_format each schema-asking endpoint takes (structured = "off": not asked)."""
    from lion_cli.llm.probe import probe_reply_shapes

    specs = endpoint_specs(settings, SCHEMA_ROLES)
    specs = {role: spec for role, spec in specs.items() if spec.structured != "off"}
    return probe_reply_shapes(specs, _keys(specs, environ)) if specs else []
