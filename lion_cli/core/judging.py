"""Asking the referee about one pair of answers: ask, parse the reply, and when it is unreadable ask
again with the next sample index, until a reply parses or the attempts allowed run out. Every attempt
is handed to `record` as it happens (the loop writes each one to the store, so a resumed run goes on
from the next sample index). Asked with a response_format (core/reply_schemas.py REFEREE_REPLY), the
reply is read as that JSON object; without one, as free text (core/referee.py). The engine is passed
in; nothing here does I/O of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lion_cli.core.api import ChatResult
from lion_cli.core.referee import ParseFailure, parse_scores
from lion_cli.core.reply_schemas import REFEREE_REPLY, ReplySchema, parse_structured_scores
from lion_cli.core.types import Role


class ChatEngine(Protocol):
    """The part of the API engine (lion_cli.llm.engine.LLMEngine) the referee routine uses."""

    async def chat(self, role: str, messages: list[dict[str, Any]], *, sample_index: int = 0,
                   temperature: float | None = None,
                   response_format: dict[str, Any] | None = None) -> ChatResult: ...

    async def response_format(self, role: str, reply: ReplySchema) -> dict[str, Any] | None: ...


async def referee_format(engine: ChatEngine) -> dict[str, Any] | None:
    """The response_format the referee is asked with (None: free text), decided once per stage."""
    return await engine.response_format(Role.REFEREE.value, REFEREE_REPLY)


@dataclass(frozen=True, slots=True)
class RefereeAttempt:
    attempt: int  # the sample index it was asked with
    raw: str
    scores: tuple[float, float] | None  # (answer shown first, answer shown second); None when unreadable
    parse_error: str | None


async def ask_referee(engine: ChatEngine, messages: list[dict[str, Any]], *, attempts: int, first_attempt: int = 0,
                      record: Callable[[RefereeAttempt], None] | None = None,
                      response_format: dict[str, Any] | None = None, role: str = Role.REFEREE.value,
                      schema: ReplySchema = REFEREE_REPLY, temperature: float | None = None
                      ) -> RefereeAttempt | None:
    """Ask with sample indexes first_attempt, first_attempt + 1, … below `attempts`, stopping at the first
    readable reply; returns the last attempt made (None when none was left to make). `role`, `schema`
    and `temperature` let Vicuna-80's judge ask the same way under its own endpoint and reply schema."""
    last: RefereeAttempt | None = None
    sampling = {} if temperature is None else {"temperature": temperature}  # None: the endpoint's own
    for attempt in range(first_attempt, attempts):
        res = await engine.chat(role, messages, sample_index=attempt, response_format=response_format, **sampling)
        parsed = parse_scores(res.text) if response_format is None else parse_structured_scores(res.text, schema)
        if isinstance(parsed, ParseFailure):
            last = RefereeAttempt(attempt, res.text, None, parsed.reason)
        else:
            last = RefereeAttempt(attempt, res.text, (parsed.first, parsed.second), None)
        if record is not None:
            record(last)
        if last.scores is not None:
            break
    return last
