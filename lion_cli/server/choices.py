"""A request's choices from a backend: n samples, stop strings and `response_format`.

- n > 1: the backend is asked n times at once, choice i marked `x_lion_choice: i` (the scripted backend
  varies its answer by it; the model backend derives the seed from it, and the n asks land in one batch).
- stop: each choice's text is cut before the first stop string found (finish_reason "stop"); the
  completion tokens are recounted for what is kept. Decoding itself does not stop there.
- response_format: a backend that writes structured output itself (`structured_output = True`, the
  scripted one) gets the schema as `x_lion_json_schema`. For any other (a local model) this is
  generate-validate-retry, not grammar-constrained decoding: the schema is put in a system message,
  the reply is parsed as JSON (a ```json fence is allowed) and checked against the schema
  (schema.problem); a reply that does not fit is asked again with another sample, up to the backend's
  `json_tries` (3 by default; once at temperature 0, where every try is the same), then the request fails
  with a 422 naming response_format. Usage counts the reply delivered, not the failed tries.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, replace
from typing import Any

from lion_cli.server.params import ChatRequest, Refusal
from lion_cli.server.schema import parse_reply

JSON_TRIES = 3


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str
    completion_tokens: int


@dataclass(frozen=True)
class Generated:
    choices: list[Choice]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str | None:
    """The text before the first stop string it contains, or None when it contains none."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(found)] if found else None


def halved(generated: Generated) -> Generated:
    """The injected 'length' fault: every choice cut to half its words, finish_reason 'length'."""
    def half(c: Choice) -> Choice:
        words = c.text.split()
        text = " ".join(words[: max(1, len(words) // 2)])
        return Choice(text, "length", len(text.split()))
    return replace(generated, choices=[half(c) for c in generated.choices])


def _token_count(backend: Any, text: str) -> int:
    counter = getattr(backend, "count_tokens", None)
    return int(counter(text)) if callable(counter) else math.ceil(len(text) / 4)


async def _ask(backend: Any, body: dict[str, Any], role: str | None, index: int,
               stops: tuple[str, ...]) -> tuple[Choice, int]:
    text, finish, prompt_tokens, completion = await backend.complete({**body, "x_lion_choice": index}, role)
    kept = cut_at_stop(text, stops)
    if kept is not None:
        text, finish, completion = kept, "stop", _token_count(backend, kept)
    return Choice(text, finish, completion), prompt_tokens


def _with_schema_instruction(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    ask = ("Reply with one JSON value that matches this JSON schema, and nothing else:\n"
           + json.dumps(schema, ensure_ascii=False))
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        return [{**first, "content": f"{first.get('content') or ''}\n\n{ask}"}, *messages[1:]]
    return [{"role": "system", "content": ask}, *messages]


async def _ask_until_valid(backend: Any, request: ChatRequest, body: dict[str, Any], role: str | None,
                           index: int, tries: int) -> tuple[Choice, int]:
    assert request.json_schema is not None
    why = ""
    for attempt in range(tries):
        choice, prompt_tokens = await _ask(backend, body, role, index + attempt * request.n, request.stops)
        text, why = parse_reply(choice.text, request.json_schema)
        if text is not None:
            return replace(choice, text=text), prompt_tokens
        if choice.finish_reason == "length":
            why += " (cut at max_tokens)"
    raise Refusal(f"no reply matched response_format in {tries} tries (generated, validated, retried; "
                  f"the last: {why})", "response_format", "response_format_failed", 422)


async def make_choices(backend: Any, request: ChatRequest, sample: int, role: str | None) -> Generated:
    """Every choice of the request; raises Refusal (422) when response_format could not be met."""
    body: dict[str, Any] = {**request.body, "x_lion_sample": sample}
    native = bool(getattr(backend, "structured_output", False))
    if request.json_schema is not None and native:
        body["x_lion_json_schema"] = request.json_schema
    if request.json_schema is not None and not native:
        body["messages"] = _with_schema_instruction(body["messages"], request.json_schema)
        tries = 1 if body.get("temperature") == 0 else int(getattr(backend, "json_tries", JSON_TRIES))
        jobs = [_ask_until_valid(backend, request, body, role, i, tries) for i in range(request.n)]
    else:
        jobs = [_ask(backend, body, role, i, request.stops) for i in range(request.n)]
    results = await asyncio.gather(*jobs)
    return Generated([choice for choice, _ in results], results[0][1])
