"""The endpoint checks that need the environment or the network: each key variable is set, each
request fits the provider's token limit, and (with --probe) each endpoint answers."""

from __future__ import annotations

import os
from collections.abc import Mapping

from lion_cli.config import Settings
from lion_cli.core.api import EndpointSpec
from lion_cli.core.types import API_ROLES, Role
from lion_cli.core.value_checks import shown_url

Finding = tuple[str, str]


def endpoint_specs(settings: Settings) -> dict[str, EndpointSpec]:
    return {role.value: settings.endpoint(role) for role in API_ROLES}


def key_findings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """One finding per unset variable, naming every role that needs it."""
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
            for role, spec in endpoint_specs(settings).items() if spec.max_tokens >= spec.tpm]


def price_notes(settings: Settings) -> list[str]:
    """A price left at "auto" for a hosted model the price table does not know: the spend shown is
    then priced at the default, a guess worth replacing by the provider's price."""
    notes = []
    for role, spec in endpoint_specs(settings).items():
        prices = spec.prices
        if prices.source == "default":
            notes.append(f"{role}: no known price for model '{spec.model}' at {shown_url(spec.base_url)}; spend is "
                         f"counted at ${prices.input_per_1k:g} / ${prices.output_per_1k:g} per 1K input / output "
                         f"tokens (set {role}.price_input_per_1k and price_output_per_1k to the provider's prices)")
    return notes


def _keys(specs: Mapping[str, EndpointSpec], environ: Mapping[str, str] | None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {role: env.get(spec.api_key_env, "") if spec.api_key_env else "" for role, spec in specs.items()}


def probe_findings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Finding]:
    from lion_cli.llm.probe import probe_endpoints

    specs = endpoint_specs(settings)
    return probe_endpoints(specs, _keys(specs, environ))


# The roles whose replies may come under a JSON schema (the Vicuna judge is the referee's endpoint).
SCHEMA_ROLES = (Role.REFEREE, Role.GENERATOR)


def reply_shape_notes(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Which shape of response_format each schema-asking endpoint takes (structured = "off": not asked)."""
    from lion_cli.llm.probe import probe_reply_shapes

    specs = {role.value: settings.endpoint(role) for role in SCHEMA_ROLES}
    specs = {role: spec for role, spec in specs.items() if spec.structured != "off"}
    return probe_reply_shapes(specs, _keys(specs, environ)) if specs else []
