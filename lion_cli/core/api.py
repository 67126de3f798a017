"""The API engine's vocabulary: one endpoint's settings, one chat result, one call's record.

Pure: the engine (lion_cli.llm), the store (request_cache / api_calls) and the pipeline all speak
these types, so none of them needs to know the others.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

Messages = list[dict[str, Any]]


def setting(default: Any, **bounds: float) -> Any:
    """One lion.toml value, declared once: its default and its bounds (ge, gt, le, lt). config.py
    validates the section against these fields (strictly: TOML has real types, so a quoted number
    is a mistake to report, not to coerce); everything else just reads the value."""
    return field(default=default, metadata={"strict": True, **bounds})


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One role's endpoint: lion.toml's [teacher], [referee] and [generator] sections are instances
    of this class (config.py gives each role its own temperature and max_tokens)."""

    base_url: str = setting("https://api.openai.com/v1")
    model: str = setting("gpt-3.5-turbo")
    # The environment variable that holds the key ("" = send no key); the key itself is never stored.
    api_key_env: str = setting("OPENAI_API_KEY")
    temperature: float = setting(0.7, ge=0.0, le=2.0)
    top_p: float = setting(1.0, gt=0.0, le=1.0)
    max_tokens: int = setting(1024, ge=1)
    rpm: int = setting(3500, ge=1)
    tpm: int = setting(90000, ge=1)
    max_concurrency: int = setting(32, ge=1)
    price_input_per_1k: float = setting(0.0015, ge=0.0)
    price_output_per_1k: float = setting(0.002, ge=0.0)
    timeout_s: float = setting(120.0, gt=0.0)
    max_retries: int = setting(8, ge=0)

    @property
    def limit_key(self) -> tuple[str, str, str]:
        """Providers limit per key and model: roles sharing all three share one set of buckets."""
        return (self.base_url.rstrip("/"), self.model, self.api_key_env)


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    cache_key: str
    model: str

    @property
    def truncated(self) -> bool:
        """The answer was cut off by max_tokens: callers must not treat it as complete."""
        return self.finish_reason == "length"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One logical call (all its retries), cache hits included. Tokens and cost are what this call
    consumed: a cache hit records zero of both, so summing the column gives the real spend."""

    ts: float
    role: str
    model: str
    base_url: str
    cache_key: str
    status: int | None
    ok: bool
    cached: bool
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    rate_limited: int = 0
    finish_reason: str | None = None
    error: str | None = None
    reserved_tokens: int = 0   # what one attempt reserved in the TPM bucket (request_reservation); 0 if cached


def request_key(base_url: str, model: str, messages: Messages, sampling: dict[str, Any], sample_index: int) -> str:
    """The identity of a paid answer: the same key is never requested twice."""
    canonical = json.dumps(
        {"base_url": base_url.rstrip("/"), "model": model, "messages": messages, "sampling": sampling,
         "sample_index": sample_index},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cost(spec: EndpointSpec, prompt_tokens: int, completion_tokens: int) -> float:
    return prompt_tokens / 1000 * spec.price_input_per_1k + completion_tokens / 1000 * spec.price_output_per_1k


def prompt_chars(messages: Messages) -> int:
    return sum(len(str(m.get("content") or "")) for m in messages)


def estimate_prompt_tokens(messages: Messages) -> int:
    """The usual 4-characters-per-token rule; the scripted server counts prompts the same way."""
    return max(1, math.ceil(prompt_chars(messages) / 4))


def request_reservation(prompt_estimate: float, max_tokens: int) -> int:
    """The tokens one request takes from its endpoint's tokens-per-minute bucket before it is sent:
    the prompt estimate plus the whole max_tokens, as providers count a request against TPM (the
    limiter settles with the real usage when the answer comes). Used by the engine to reserve and
    by the projection to tell how many requests a minute a TPM limit lets through."""
    return math.ceil(prompt_estimate) + max_tokens
