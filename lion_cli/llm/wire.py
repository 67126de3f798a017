"""Reading OpenAI-style responses defensively: a body that is not a usable completion is a
retryable failure, never a crash or a half-filled result."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from lion_cli.core.api import ChatResult
from lion_cli.core.redact import redact_and_cut

MAX_MESSAGE_CHARS = 500


def parse_completion(body: str, model: str, prompt_estimate: int) -> ChatResult | None:
    """The first choice's text and finish_reason, and the usage (estimated when a server omits it)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    first: dict[str, Any] = choices[0]
    message = first.get("message")
    # `text` is the legacy completions shape; some gateways still send it.
    text = (message.get("content") if isinstance(message, dict) else first.get("text")) or ""
    if not isinstance(text, str):
        return None
    usage = data.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    prompt_tokens = _int(usage.get("prompt_tokens"), prompt_estimate)
    completion_tokens = _int(usage.get("completion_tokens"), math.ceil(len(text) / 4))
    return ChatResult(text=text, finish_reason=str(first.get("finish_reason") or ""),
                      prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=0.0,
                      cached=False, cache_key="", model=str(data.get("model") or model))


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value >= 0 else default


def server_message(resp: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The server's own explanation (OpenAI: {"error": {"message": …}}), redacted, then shortened:
    a server may echo the key, and a cut through it would leave part of it behind."""
    text = resp.text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            text = str(err["message"])
        elif isinstance(err, str):
            text = err
        elif data.get("message"):
            text = str(data["message"])
    text = " ".join(text.split())
    return redact_and_cut(text, secrets, MAX_MESSAGE_CHARS) or "(empty body)"


def not_found_hint(base_url: str) -> str:
    """What a 404 from {base_url}/… most often means: a base_url that is not the API root."""
    if base_url.rstrip("/").endswith("/v1"):
        return ""
    return "; check base_url: it is usually the API root ending in /v1, e.g. https://api.openai.com/v1"
