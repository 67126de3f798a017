"""What the local server does wrong on purpose, and the limits it enforces.

Every choice (which fault, how much latency) is drawn from a hash of (fault_seed, request hash,
how many times that request has arrived), so a run is reproducible from `--fault-seed` and the
requests sent, whatever order concurrency puts them in, and a retry of a failed request draws
again (it can succeed).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, fields

# Checked in this order; the rates are shares of all requests and must sum to at most 1.
FAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "timeout", "drop", "malformed", "empty_choices", "length",
                                "echo")


@dataclass(frozen=True)
class FaultConfig:
    latency_min: float = 0.0
    latency_max: float = 0.0
    rate_429: float = 0.0           # injected 429s (not caused by the limits), with Retry-After below
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_timeout: float = 0.0       # hold the request `timeout_hold_s`, then close with no response
    rate_drop: float = 0.0          # close the socket at once with no response
    rate_malformed: float = 0.0     # 200 with a body that is not valid JSON
    rate_empty_choices: float = 0.0  # 200 with "choices": []
    rate_length: float = 0.0        # a real answer cut short with finish_reason "length"
    fault_seed: int = 0
    retry_after_s: float = 1.0      # Retry-After sent with injected 429s
    timeout_hold_s: float = 600.0
    first_attempt_only: bool = False  # faults hit only a request's first arrival (retry tests)
    # A careless server that repeats the request's Authorization header in what it sends back (the
    # secret-scan tests): with status echo_status (200: inside the answer), after echo_pad characters
    # of filler (to put the key across a cut edge), in a JSON error body or as plain text.
    rate_echo: float = 0.0
    echo_status: int = 401
    echo_pad: int = 0
    echo_json: bool = True

    def __post_init__(self) -> None:
        total = sum(self.rate(k) for k in FAULT_KINDS)
        if any(self.rate(k) < 0 for k in FAULT_KINDS) or total > 1.0 + 1e-9:
            raise ValueError(f"fault rates must be ≥ 0 and sum to ≤ 1 (they sum to {total:g})")
        if not 0 <= self.latency_min <= self.latency_max:
            raise ValueError(f"latency must satisfy 0 ≤ min ≤ max (got {self.latency_min}..{self.latency_max})")

    def rate(self, kind: str) -> float:
        return float(getattr(self, "rate_" + kind))

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class LimitConfig:
    rpm: int = 0          # 0 = unlimited
    tpm: int = 0
    window_s: float = 60.0  # the sliding window the limits are counted over (tests shorten it)
    api_key: str = ""     # when set, requests must carry `Authorization: Bearer <api_key>`
    slots: int = 0        # requests worked on at once, the rest queued (llama.cpp's slots); 0 = unlimited
    service_time_s: float = 0.0  # each request holds its slot at least this long (slots.py)
    # False: a server without structured outputs, which answers a request carrying a response_format
    # json_schema or json_object with a 400 naming the parameter (as one that never heard of it does).
    structured: bool = True
    # The model's context, in the server's prompt-token estimate: a longer prompt gets OpenAI's 400
    # context_length_exceeded (a seed too long for the server). 0 = unlimited.
    context_tokens: int = 0


def _rng(seed: int, request_hash: str, occurrence: int, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{request_hash}|{occurrence}|{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def choose_fault(cfg: FaultConfig, request_hash: str, occurrence: int) -> str | None:
    if cfg.first_attempt_only and occurrence > 1:
        return None
    u = _rng(cfg.fault_seed, request_hash, occurrence, "fault").random()
    edge = 0.0
    for kind in FAULT_KINDS:
        edge += cfg.rate(kind)
        if u < edge:
            return kind
    return None


def choose_latency(cfg: FaultConfig, request_hash: str, occurrence: int) -> float:
    if cfg.latency_max <= 0:
        return 0.0
    return _rng(cfg.fault_seed, request_hash, occurrence, "latency").uniform(cfg.latency_min, cfg.latency_max)


def echo_body(cfg: FaultConfig, authorization: str) -> tuple[str, str]:
    """(content type, body) of an echo fault: the header value after `echo_pad` filler characters
    (no spaces, so a client that squeezes white space keeps the offset), then more text."""
    filler = ("invalid-credentials-" * (cfg.echo_pad // 20 + 1))[:cfg.echo_pad]
    message = f"{filler}{authorization or '(no Authorization header)'} was rejected; check the key and retry."
    if cfg.echo_status == 200:
        return "application/json", json.dumps({
            "id": "chatcmpl-echo", "object": "chat.completion", "created": 0, "model": "echo",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
    if not cfg.echo_json:
        return "text/plain; charset=utf-8", message
    return "application/json", json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                                     "received_headers": {"authorization": authorization}}})
