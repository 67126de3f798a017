"""The API engine's vocabulary: one endpoint's settings, one chat result, one call's record.

Pure: the engine (lion_cli.llm), the store (request_cache / api_calls) and the pipeline all speak
these types, so none of them needs to know the others.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from lion_cli.core.batches import BatchLimits
from lion_cli.core.prices import AUTO, Price, Prices, batch_prices, resolve_prices

Messages = list[dict[str, Any]]


def setting(default: Any, **bounds: float) -> Any:
    """One lion.toml value, declared once: its default and its bounds (ge, gt, le, lt). config.py
    validates the section against these fields (strictly: TOML has real types, so a quoted number
    is a mistake to report, not to coerce); everything else just reads the value."""
    return field(default=default, metadata={"strict": True, **bounds})


StructuredMode = Literal["auto", "on", "off"]
RequestMode = Literal["online", "batch"]


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
    # Find how many of max_concurrency the server serves at once (core/aimd.py) instead of always
    # sending that many: a one-slot llama.cpp server queues the rest until they time out.
    adaptive_concurrency: bool = setting(True)
    # USD per 1K tokens; "auto": by host and model (core/prices.py: 0 for a local server). Not a
    # setting(): pydantic cannot mark a union strict, so config.py checks a price itself (price_problem).
    price_input_per_1k: Price = field(default=AUTO)
    price_output_per_1k: Price = field(default=AUTO)
    # The same through the provider's batch API; "auto": half the online price (core/prices.py).
    batch_price_input_per_1k: Price = field(default=AUTO)
    batch_price_output_per_1k: Price = field(default=AUTO)
    timeout_s: float = setting(120.0, gt=0.0)
    max_retries: int = setting(8, ge=0)
    # Ask for JSON replies under a schema (response_format json_schema, or json_object + schema where
    # only that is taken): "auto" probes the endpoint once and remembers what it found (store:
    # endpoint_capabilities), "on" always (in the shape found), "off" never.
    structured: StructuredMode = field(default="auto")   # a Literal admits nothing else: no strict needed
    # "batch": the stage's requests go through the provider's batch API (files, batches: llm/batch.py) at
    # the batch prices, answered within the completion window; "online": one request at a time.
    mode: RequestMode = field(default="online")
    batch_completion_window: str = setting("24h")
    batch_poll_s: float = setting(30.0, gt=0.0)
    # Where a batch's failed or expired lines are sent again: in the next batch, or online at once.
    batch_resend: RequestMode = field(default="batch")

    @property
    def prices(self) -> Prices:
        """The prices this endpoint is charged at, "auto" resolved (core/prices.py)."""
        return resolve_prices(self.base_url, self.model, self.price_input_per_1k, self.price_output_per_1k)

    @property
    def batch_prices(self) -> Prices:
        """The prices of a request sent through the batch API, "auto" resolved (core/prices.py)."""
        return batch_prices(self.prices, self.batch_price_input_per_1k, self.batch_price_output_per_1k)

    @property
    def items_in_flight(self) -> int:
        """How many of a stage's items ask at once: max_concurrency online; in batch mode as many as one batch
        takes, so they go out together (the engine itself sends none of them one by one)."""
        return self.max_concurrency if self.mode == "online" else BatchLimits.max_lines

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
    """One attempt of a call (each request sent, retries included) or one cache hit. Each record counts
    itself: retries is 1 on a retry, rate_limited 1 on a 429; `final` marks the record that ended its
    call, so logical calls are the final records. Tokens and cost are what the attempt consumed: a
    failed attempt and a cache hit record zero of both, so summing the column gives the real spend."""

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
    attempt: int = 1           # which try of its call (1 = the first); 0 for a cache hit
    final: bool = True         # this record ended its call (its answer, its last failure, or a cache hit)
    # Given up on after the server had it (a timeout, a dropped connection, cancelled in flight): it
    # may still have been answered, and billed.
    possibly_billed: bool = False


def request_key(base_url: str, model: str, messages: Messages, sampling: dict[str, Any], sample_index: int) -> str:
    """The identity of a paid answer: the same key is never requested twice. `sampling` is every
    request parameter besides the messages, response_format included: a reply asked for under a JSON
    schema is another answer than a free-text one (it is read another way)."""
    canonical = json.dumps(
        {"base_url": base_url.rstrip("/"), "model": model, "messages": messages, "sampling": sampling,
         "sample_index": sample_index},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cost(spec: EndpointSpec, prompt_tokens: int, completion_tokens: int) -> float:
    return spec.prices.cost(prompt_tokens, completion_tokens)


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
