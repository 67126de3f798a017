"""The API engine's vocabulary: one endpoint's settings, one chat result, one call's record.

Pure: the engine (lion_cli.llm), the store (request_cache / api_calls) and the pipeline all speak
these types, so none of them needs to know the others.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

Messages = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One role's endpoint; the same fields as config.EndpointSettings (built with
    `EndpointSpec(**settings.model_dump())`)."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    rpm: int = 3500
    tpm: int = 90000
    max_concurrency: int = 32
    price_input_per_1k: float = 0.0015
    price_output_per_1k: float = 0.002
    timeout_s: float = 120.0
    max_retries: int = 8

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
