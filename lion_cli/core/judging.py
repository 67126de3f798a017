"""Asking the referee about one pair of answers: ask, parse the reply, and when it is unreadable ask
again with the next sample index, until a reply parses or the attempts allowed run out. Every attempt
is handed to `record` as it happens (the loop writes each one to the store, so a resumed run goes on
from the next sample index). The engine is passed in; nothing here does I/O of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lion_cli.core.api import ChatResult
from lion_cli.core.referee import ParseFailure, parse_scores
from lion_cli.core.types import Role


class ChatEngine(Protocol):
    """The part of the API engine (lion_cli.llm.engine.LLMEngine) the referee routine uses."""

    async def chat(self, role: str, messages: list[dict[str, Any]], *, sample_index: int = 0) -> ChatResult: ...


@dataclass(frozen=True, slots=True)
class RefereeAttempt:
    attempt: int  # the sample index it was asked with
    raw: str
    scores: tuple[float, float] | None  # (answer shown first, answer shown second); None when unreadable
    parse_error: str | None


async def ask_referee(engine: ChatEngine, messages: list[dict[str, Any]], *, attempts: int, first_attempt: int = 0,
                      record: Callable[[RefereeAttempt], None] | None = None) -> RefereeAttempt | None:
    """Ask with sample indexes first_attempt, first_attempt + 1, … below `attempts`, stopping at the first
    readable reply; returns the last attempt made (None when none was left to make)."""
    last: RefereeAttempt | None = None
    for attempt in range(first_attempt, attempts):
        res = await engine.chat(Role.REFEREE.value, messages, sample_index=attempt)
        parsed = parse_scores(res.text)
        if isinstance(parsed, ParseFailure):
            last = RefereeAttempt(attempt, res.text, None, parsed.reason)
        else:
            last = RefereeAttempt(attempt, res.text, (parsed.first, parsed.second), None)
        if record is not None:
            record(last)
        if last.scores is not None:
            break
    return last
