"""Which chat-completion parameters `lion serve` accepts, and the request they make.

Every parameter a request names is either honoured, harmless (read and ignored, listed below), accepted only
at its default value, or refused with a 400 that names it: nothing is silently ignored.

Honoured: model (echoed back), messages (text content; a list of parts is joined from its text parts),
max_tokens / max_completion_tokens (the smaller one when both are given), n (1-16 choices, each its own
sample), stop (a string or up to 4; the text is cut before the first one found, finish_reason "stop"),
stream / stream_options.include_usage (see render.py), response_format (text, json_object, json_schema; see
choices.py), seed, and in model mode temperature, top_p and top_k (vLLM's extension). The scripted backend's
answers are fixed by the prompt, seed and sample, so temperature, top_p and top_k change nothing there.
Harmless: user, metadata, safety_identifier, prompt_cache_key (bookkeeping for a hosted API).
Only at their default: presence_penalty and frequency_penalty (0), logprobs (false), top_logprobs (0),
logit_bias ({}), store (false), modalities (["text"]); null is always the default.
Refused: tools, tool_choice, functions, function_call, parallel_tool_calls, and every other name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_N = 16
MAX_STOPS = 4
HONOURED = ("model", "messages", "max_tokens", "max_completion_tokens", "n", "stop", "stream", "stream_options",
            "response_format", "seed", "temperature", "top_p", "top_k")
HARMLESS = ("user", "metadata", "safety_identifier", "prompt_cache_key")
DEFAULT_ONLY: dict[str, Any] = {"presence_penalty": 0, "frequency_penalty": 0, "logprobs": False, "top_logprobs": 0,
                                "logit_bias": {}, "store": False, "modalities": ["text"]}
_RESPONSE_TYPES = ("text", "json_object", "json_schema")


class Refusal(Exception):
    """A request the server will not answer: the message, the parameter it is about (OpenAI's error `param`),
    a code, and the HTTP status (400 unless said otherwise)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


@dataclass(frozen=True)
class ChatRequest:
    body: dict[str, Any]        # what a backend reads: text-only messages, max_tokens set when any limit was given
    n: int
    stops: tuple[str, ...]
    stream: bool
    include_usage: bool
    json_schema: dict[str, Any] | None  # None: plain text; {"type": "object"} for json_object


def _unsupported(name: str) -> Refusal:
    return Refusal(f"lion serve does not support '{name}'", name, "unsupported_parameter")


def _check_names(body: dict[str, Any]) -> None:
    for name, value in body.items():
        if name in HONOURED or name in HARMLESS or value is None:
            continue
        if name in DEFAULT_ONLY:
            if value != DEFAULT_ONLY[name]:
                raise Refusal(f"lion serve does not support '{name}' (only {DEFAULT_ONLY[name]!r} is accepted)",
                              name, "unsupported_parameter")
            continue
        raise _unsupported(name)


def content_text(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of OpenAI's list-of-parts form (other parts refused)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise Refusal(f"{where}.content must be a string or a list of parts", "messages")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise Refusal(f"{where}.content: lion serve reads text parts only, not {kind or part!r}", "messages")
        texts.append(part["text"])
    return "".join(texts)


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise Refusal("'messages' must be a non-empty list of objects", "messages")
    return [{**m, "content": content_text(m.get("content"), f"messages[{i}]")} for i, m in enumerate(messages)]


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    wrong = isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high
    if value is not None and wrong:
        raise Refusal(f"'{name}' must be a number between {low:g} and {high:g}, got {value!r}", name)


def _count(body: dict[str, Any], name: str, low: int, high: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"of at least {low}"
        raise Refusal(f"'{name}' must be an integer {bound}, got {value!r}", name)
    return value


def _stops(value: Any) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else value
    if stops is None:
        return ()
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops) or len(stops) > MAX_STOPS:
        raise Refusal(f"'stop' must be a non-empty string or a list of at most {MAX_STOPS} of them", "stop")
    return tuple(stops)


def _json_schema(value: Any) -> dict[str, Any] | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if value is None or kind == "text":
        return None
    if kind not in _RESPONSE_TYPES:
        raise Refusal(f"'response_format'.type must be one of {', '.join(_RESPONSE_TYPES)}", "response_format")
    if kind == "json_object":
        return {"type": "object"}
    spec = value.get("json_schema")
    schema = spec.get("schema", {"type": "object"}) if isinstance(spec, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(schema, dict):
        raise Refusal("'response_format'.json_schema needs a 'name' and a 'schema' object", "response_format")
    return schema


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    stream, options = body.get("stream"), body.get("stream_options")
    if stream is not None and not isinstance(stream, bool):
        raise Refusal("'stream' must be true or false", "stream")
    if options is not None and not stream:
        raise Refusal("'stream_options' is only allowed with 'stream': true", "stream_options")
    if options is not None and (not isinstance(options, dict) or set(options) - {"include_usage"}):
        raise Refusal("lion serve does not support 'stream_options' other than include_usage", "stream_options")
    return bool(stream), bool((options or {}).get("include_usage"))


def parse_chat_request(body: Any) -> ChatRequest:
    """The request a client sent, checked; raises Refusal (a 400) naming what is wrong."""
    if not isinstance(body, dict):
        raise Refusal("the request body must be a JSON object")
    _check_names(body)
    messages = _messages(body)
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _count(body, "top_k", 0)
    _count(body, "seed", -(2**63), 2**64 - 1)
    limits = [v for v in (_count(body, "max_tokens", 1), _count(body, "max_completion_tokens", 1)) if v is not None]
    n = _count(body, "n", 1, MAX_N) or 1
    stream, include_usage = _stream_flags(body)
    clean = {**body, "messages": messages}
    if limits:
        clean["max_tokens"] = min(limits)
    return ChatRequest(clean, n, _stops(body.get("stop")), stream, include_usage,
                       _json_schema(body.get("response_format")))
