"""Guided score lines for a small local referee (`lion serve --model … --guided-scores`).

A 135M-parameter model does not follow the referee prompt's output format: asked for a justification
and two "Assistant N: <score>" lines, SmolLM2-135M-Instruct rambles and never writes a score. The
format is known, though, so the server can fill it in the way guided decoding does: it appends
"Assistant 1: " to the prompt, reads the model's next-token distribution over the digits 1–9 and writes
its expected value, then does the same for "Assistant 2: " after the first line. Two forward passes
instead of dozens of decoding steps, and a score that reflects the model's relative preference rather
than a parse failure. Any other request is answered by the wrapped backend as usual.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

# The referee prompt ends by asking for exactly these lines (prompts/referee.txt).
_ASKS_FOR_SCORES = re.compile(r"Assistant 1: <score>\s*\nAssistant 2: <score>\s*$")
LABELS = ("Assistant 1", "Assistant 2")


def wants_score_lines(messages: list[dict[str, Any]]) -> bool:
    users = [m for m in messages if m.get("role") == "user"]
    return bool(users) and bool(_ASKS_FOR_SCORES.search(str(users[-1].get("content") or "")))


def digit_token_ids(tokenizer: Any) -> list[int]:
    ids = [tokenizer(str(d), add_special_tokens=False).input_ids for d in range(1, 10)]
    if any(len(i) != 1 for i in ids):
        raise ValueError("the tokenizer does not encode each digit 1-9 as one token")
    return [i[0] for i in ids]


def score_lines(model: Any, tokenizer: Any, prompt_ids: list[int]) -> tuple[str, int]:
    """The two score lines and the number of tokens they take. The prompt is run once; the second
    line continues from its cached keys and values (only the few tokens after it are new)."""
    import torch

    digits = digit_token_ids(tokenizer)
    values = torch.arange(1, 10, dtype=torch.float32)
    new_ids = list(prompt_ids)
    past: Any = None
    lines: list[str] = []
    written = 0
    for n, label in enumerate(LABELS):
        prefix = tokenizer(("\n" if n else "") + f"{label}: ", add_special_tokens=False).input_ids
        new_ids += prefix
        with torch.no_grad():
            # logits_to_keep=1: only the last position is read, so skip the vocabulary projection elsewhere
            out = model(torch.tensor([new_ids], device=model.device), past_key_values=past, use_cache=True,
                        logits_to_keep=1)
        past = out.past_key_values
        probs = torch.softmax(out.logits[0, -1].float().cpu()[digits], dim=-1)
        score = round(float((probs * values).sum()), 1)
        lines.append(f"{label}: {score}")
        new_ids = [digits[int(probs.argmax())]]  # the digit written, fed with the next line's prefix
        written += len(prefix) + 1
    return "\n".join(lines), written


class GuidedScores:
    """Wraps a model backend (HFBackend): referee requests get guided score lines."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        digit_token_ids(inner.tokenizer)  # fail at start-up, not on the first referee request

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        messages = request.get("messages") or []
        if not wants_score_lines(messages):
            result: tuple[str, str, int, int] = await self.inner.complete(request, role)
            return result
        prompt = self.inner.prompt_ids(messages)
        loop = asyncio.get_running_loop()
        # The wrapped backend's single decode thread: the model is never used by two threads at once.
        text, written = await loop.run_in_executor(self.inner._executor, score_lines, self.inner.model,
                                                   self.inner.tokenizer, prompt)
        return text, "stop", len(prompt), written
