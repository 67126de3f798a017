"""Prompt → token ids, the one way for training, generation, scoring and `lion serve`.

Training and generation MUST lay a prompt out and tokenise it identically, or the student is asked
questions in a shape it never saw; that is why `prompt_ids` is the only place that does it (and
`continuation_ids` for the text that follows a prompt: an answer, an option).
Imports nothing but the specs; the tokenizer is whatever object the caller loaded.

- "alpaca": the Lion paper's Alpaca layout without the preamble sentence. Tokenise it with the
  tokenizer's usual special tokens (e.g. a BOS), as plain text is.
- "chat": one user turn through the tokenizer's chat template, with the assistant prompt appended.
  The template already writes its special tokens: tokenise with add_special_tokens=False.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lion_cli.student.specs import GEN_PROMPT_FORMATS, PROMPT_FORMATS


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """The Alpaca layout, no preamble; the Input block only when there is an input."""
    if input:
        return f"### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    return f"### Instruction:\n{instruction}\n\n### Response:\n"


def chat_messages(instruction: str, input: str = "") -> list[dict[str, str]]:
    """One user message: the instruction, then a blank line and the input when there is one."""
    content = f"{instruction}\n\n{input}" if input else instruction
    return [{"role": "user", "content": content}]


def render_prompt(tokenizer: Any, instruction: str, input: str, fmt: str) -> str:
    """The prompt text for `fmt` ("alpaca" | "chat"); the answer follows it directly."""
    if fmt == "alpaca":
        return alpaca_prompt(instruction, input)
    if fmt == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("prompt_format 'chat' needs a tokenizer with a chat template; this one has none")
        text = tokenizer.apply_chat_template(chat_messages(instruction, input), add_generation_prompt=True,
                                             tokenize=False)
        return str(text)
    raise ValueError(f"unknown prompt format {fmt!r}; expected one of {', '.join(PROMPT_FORMATS)}")


def prompt_ids(tokenizer: Any, row: Mapping[str, Any], fmt: str) -> list[int]:
    """Token ids of a row's prompt, the answer to follow them directly.

    alpaca / chat: row {instruction, input?} laid out by render_prompt. raw: row {prompt}, the text as
    it is. chat_raw: row {messages} (OpenAI-style) or {prompt} (one user turn) through the chat
    template. Plain text gets the tokenizer's usual special tokens (e.g. a BOS); chat-templated text
    already holds the ones its template wants, so none are added to it.
    """
    if fmt in PROMPT_FORMATS:
        text, plain = render_prompt(tokenizer, row["instruction"], row.get("input") or "", fmt), fmt == "alpaca"
    elif fmt == "raw":
        text, plain = row["prompt"], True
    elif fmt == "chat_raw":
        messages = row.get("messages") or [{"role": "user", "content": row["prompt"]}]
        text = str(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        plain = False
    else:
        raise ValueError(f"unknown prompt format {fmt!r}; expected one of {', '.join(GEN_PROMPT_FORMATS)}")
    return list(tokenizer(text, add_special_tokens=plain).input_ids)


def continuation_ids(tokenizer: Any, text: str, fmt: str) -> list[int]:
    """Token ids of `text` following a prompt of format `fmt`. Alpaca and chat prompts end where the
    answer starts; after raw text the continuation is a word of its own (a leading space)."""
    return list(tokenizer((" " if fmt == "raw" else "") + text, add_special_tokens=False).input_ids)
