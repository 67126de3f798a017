"""Shared helpers for the tests/test_llm_*.py files: an in-process loopback server (real sockets, a
server thread with its own event loop) and endpoint specs pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from lion_cli.core.api import EndpointSpec
from lion_cli.server.app import build_server
from lion_cli.server.faults import FaultConfig, LimitConfig
from lion_cli.server.runner import server_in_thread
from lion_cli.server.scripted import ScriptedBackend

TEACHER_PROMPT = "### Instruction:\n{}\n\n### Response:"


@contextmanager
def loopback(backend: Any | None = None, **options: Any) -> Iterator[str]:
    """A scripted server on 127.0.0.1; options are FaultConfig / LimitConfig fields."""
    fault_names = set(FaultConfig.field_names())
    faults = FaultConfig(**{k: v for k, v in options.items() if k in fault_names})
    limits = LimitConfig(**{k: v for k, v in options.items() if k not in fault_names})
    server = build_server(backend or ScriptedBackend(bad_reply_rate=0.0), faults, limits)
    with server_in_thread(server) as url:
        yield url


def stats(url: str, log: bool = False) -> dict[str, Any]:
    base = url.removesuffix("/v1")
    return dict(httpx.get(f"{base}/stats" + ("?log=1" if log else ""), timeout=10).json())


def spec(url: str, **overrides: Any) -> EndpointSpec:
    values: dict[str, Any] = {"base_url": url, "model": "test-model", "api_key_env": "", "rpm": 60_000,
                              "tpm": 10_000_000, "max_concurrency": 8, "timeout_s": 5.0, "max_retries": 3,
                              "max_tokens": 200, "price_input_per_1k": 0.001, "price_output_per_1k": 0.002}
    values.update(overrides)
    return EndpointSpec(**values)


def teacher_messages(instruction: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": TEACHER_PROMPT.format(instruction)}]
