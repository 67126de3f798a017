"""Guided referee scores (`lion serve --guided-scores`): the score lines come from the model's digit
likelihoods, in the referee prompt's format, and only referee prompts are answered that way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lion_cli.core.referee import Scores, parse_scores
from lion_cli.prompts_loader import load_role_prompts
from lion_cli.server.guided_scores import GuidedScores, score_lines, wants_score_lines


def _prompt_ids(tok: Any, messages: list[dict[str, str]]) -> list[int]:
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return list(tok(text, add_special_tokens=False).input_ids)


def test_only_the_referee_prompt_asks_for_score_lines() -> None:
    prompts = load_role_prompts()
    assert wants_score_lines(prompts.referee("Name a colour.", "", "Red.", "Blue is one."))
    assert not wants_score_lines(prompts.teacher("Name a colour.", ""))
    assert not wants_score_lines(prompts.generator("hard", "Name a colour.", ""))


def test_score_lines_parse_and_follow_the_digit_distribution(tiny_model_dir: Path) -> None:
    import torch

    from lion_cli.server.guided_scores import digit_token_ids
    from lion_cli.student.scripts.batch_decode import load_model

    model, tok = load_model(str(tiny_model_dir))
    msgs = load_role_prompts().referee("Name a colour.", "", "Red.", "Blue is one.")
    prompt = _prompt_ids(tok, msgs)
    text, written = score_lines(model, tok, prompt)
    parsed = parse_scores(text)
    assert isinstance(parsed, Scores), text
    assert 1.0 <= parsed.first <= 9.0 and 1.0 <= parsed.second <= 9.0 and written > 2
    # The first score is the expectation of the digit distribution after "Assistant 1: ".
    ids = prompt + tok("Assistant 1: ", add_special_tokens=False).input_ids
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    probs = torch.softmax(logits[digit_token_ids(tok)], dim=-1)
    assert parsed.first == round(float((probs * torch.arange(1, 10)).sum()), 1)
    # The second continues after the most likely first digit; computed here without the KV cache.
    ids += [digit_token_ids(tok)[int(probs.argmax())], *tok("\nAssistant 2: ", add_special_tokens=False).input_ids]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    probs = torch.softmax(logits[digit_token_ids(tok)], dim=-1)
    assert parsed.second == round(float((probs * torch.arange(1, 10)).sum()), 1)


class _Inner:
    """Stands in for HFBackend's generation path; the model is the real tiny one."""

    def __init__(self, model: Any, tok: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.model, self.tokenizer = model, tok
        self._executor = ThreadPoolExecutor(max_workers=1)
        self.plain_calls = 0

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        return _prompt_ids(self.tokenizer, messages)

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        self.plain_calls += 1
        return "plain", "stop", 1, 1


def test_wrapper_routes_referee_requests_only(tiny_model_dir: Path) -> None:
    from lion_cli.student.scripts.batch_decode import load_model

    inner = _Inner(*load_model(str(tiny_model_dir)))
    backend = GuidedScores(inner)
    prompts = load_role_prompts()
    ref = asyncio.run(backend.complete({"messages": prompts.referee("Q?", "", "a", "b")}, None))
    plain = asyncio.run(backend.complete({"messages": prompts.teacher("Q?", "")}, None))
    assert isinstance(parse_scores(ref[0]), Scores) and ref[1] == "stop"
    assert plain[0] == "plain" and inner.plain_calls == 1
