"""The one referee routine (ask, parse, retry with the next sample, record every attempt) and the
order mapping beside Order."""

from __future__ import annotations

import asyncio
from typing import Any

from lion_cli.core.api import ChatResult
from lion_cli.core.judging import RefereeAttempt, ask_referee
from lion_cli.core.types import Order, shown_pair, teacher_student


class Replies:
    """A referee whose reply to sample index i is replies[i]; remembers what it was asked."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.asked: list[tuple[str, int]] = []
        self.formats: list[dict[str, Any] | None] = []

    async def chat(self, role: str, messages: list[dict[str, Any]], *, sample_index: int = 0,
                   response_format: dict[str, Any] | None = None) -> ChatResult:
        self.asked.append((role, sample_index))
        self.formats.append(response_format)
        return ChatResult(self.replies[sample_index], "stop", 0, 0, 0.0, False, "", "judge")


def _ask(engine: Replies, **kw: Any) -> tuple[RefereeAttempt | None, list[RefereeAttempt]]:
    seen: list[RefereeAttempt] = []
    last = asyncio.run(ask_referee(engine, [{"role": "user", "content": "judge"}], record=seen.append, **kw))
    return last, seen


def test_unreadable_replies_are_asked_again_with_the_next_sample_and_all_recorded() -> None:
    engine = Replies(["no idea", "", "7 3", "9 9"])
    last, seen = _ask(engine, attempts=4)
    assert engine.asked == [("referee", 0), ("referee", 1), ("referee", 2)]  # stops at the first readable
    assert [a.attempt for a in seen] == [0, 1, 2]
    assert [a.scores for a in seen] == [None, None, (7.0, 3.0)]
    assert seen[0].parse_error and seen[1].parse_error and seen[2].parse_error is None
    assert last == seen[-1]


def test_attempts_run_out_and_a_resume_starts_at_the_next_sample() -> None:
    last, seen = _ask(Replies(["?", "??", "???"]), attempts=2)
    assert [a.attempt for a in seen] == [0, 1] and last is not None and last.scores is None and last.raw == "??"
    engine = Replies(["?", "??", "8 2"])
    last, seen = _ask(engine, attempts=3, first_attempt=2)
    assert engine.asked == [("referee", 2)] and last is not None and last.scores == (8.0, 2.0)
    last, seen = _ask(Replies([]), attempts=2, first_attempt=2)
    assert last is None and seen == []


def test_order_mapping_round_trips() -> None:
    assert shown_pair(Order.TEACHER_FIRST, "t", "s") == ("t", "s")
    assert shown_pair(Order.STUDENT_FIRST, "t", "s") == ("s", "t")
    for order in Order:
        assert teacher_student(order, *shown_pair(order, 9.0, 4.0)) == (9.0, 4.0)
