"""Prompt layouts shared by training, generation and evaluation.

Standalone (stdlib only, imports nothing from lion) so the subprocess entry scripts can use it.
Training and generation MUST lay a prompt out identically, or the student is asked questions in a
shape it never saw; that is why this module is the single place that defines the layouts.

- "alpaca": the Lion paper's Alpaca layout without the preamble sentence. Tokenise it with the
  tokenizer's usual special tokens (e.g. a BOS), as plain text is.
- "chat": one user turn through the tokenizer's chat template, with the assistant prompt appended.
  The template already writes its special tokens: tokenise with add_special_tokens=False.
"""

from __future__ import annotations

from typing import Any

PROMPT_FORMATS = ("alpaca", "chat")


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


def adds_special_tokens(fmt: str) -> bool:
    """Whether the rendered prompt is tokenised with the tokenizer's own special tokens (BOS...)."""
    return fmt == "alpaca"
