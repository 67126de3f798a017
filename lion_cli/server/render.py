"""A completion as OpenAI sends it: one chat.completion JSON object, or (`stream: true`) server-sent events.

The stream is OpenAI's chat.completion.chunk sequence: per choice a first chunk with the assistant role
and empty content, then the text in pieces (a word with the white space before it), then a chunk with
the finish_reason and an empty delta; with stream_options.include_usage every chunk carries
"usage": null and a last chunk carries the usage with no choices; then `data: [DONE]`. The answer is
complete before the first chunk is written (both backends generate it whole), so the stream is the
answer cut in pieces, sent at once, not tokens as they are decoded.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lion_cli.server.choices import Choice

_PIECE = re.compile(r"\s*\S+|\s+$")


def usage(prompt_tokens: int, choices: list[Choice]) -> dict[str, int]:
    completion = sum(c.completion_tokens for c in choices)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def completion_body(head: dict[str, Any], choices: list[Choice], prompt_tokens: int) -> dict[str, Any]:
    """`head`: id, created and model, shared by the reply and each chunk of a stream."""
    return {**head, "object": "chat.completion", "usage": usage(prompt_tokens, choices), "choices": [
        {"index": i, "message": {"role": "assistant", "content": c.text}, "logprobs": None,
         "finish_reason": c.finish_reason} for i, c in enumerate(choices)]}


def _choice_deltas(index: int, choice: Choice) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in _PIECE.findall(choice.text)]
    out: list[dict[str, Any]] = [{"index": index, "delta": d, "logprobs": None, "finish_reason": None} for d in deltas]
    out.append({"index": index, "delta": {}, "logprobs": None, "finish_reason": choice.finish_reason})
    return out


def stream_body(head: dict[str, Any], choices: list[Choice], prompt_tokens: int, include_usage: bool) -> bytes:
    chunk_head = {**head, "object": "chat.completion.chunk"}
    if include_usage:
        chunk_head["usage"] = None
    chunks = [{**chunk_head, "choices": [part]} for i, c in enumerate(choices) for part in _choice_deltas(i, c)]
    if include_usage:
        chunks.append({**chunk_head, "choices": [], "usage": usage(prompt_tokens, choices)})
    events = [f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n" for chunk in chunks]
    return ("".join(events) + "data: [DONE]\n\n").encode("utf-8")
