"""From referee verdicts to labels: each Cache Pool item is judged in both orders (teacher's answer
first, then student's first); its gap is the mean teacher score minus the mean student score over
the two orders, and it is hard when the gap reaches τ. An order whose every attempt was unreadable
leaves the item unscored: excluded from both hard and easy, but counted.

API used by lion_cli/pipeline/discrimination.py:
    label_items(ids, verdicts, tau) -> [LabelRow]      summarize(rows) -> dict
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from lion_cli.core.types import Label, Order


class VerdictLike(Protocol):
    """One referee attempt, as the store reads it back (store.loop_rows.Verdict)."""

    @property
    def instruction_id(self) -> int: ...
    @property
    def order(self) -> Order: ...
    @property
    def attempt(self) -> int: ...
    @property
    def teacher_score(self) -> float | None: ...
    @property
    def student_score(self) -> float | None: ...
    @property
    def parse_error(self) -> str | None: ...


@dataclass(frozen=True)
class LabelRow:
    instruction_id: int
    teacher_score: float | None  # mean over the two orders
    student_score: float | None
    gap: float | None
    label: Label
    order_flip: bool | None  # the winner changed between the orders (None when unscored)


def _winner(teacher: float, student: float) -> int:
    return (teacher > student) - (teacher < student)  # 1 teacher, -1 student, 0 tie


def label_items(ids: Sequence[int], verdicts: Iterable[VerdictLike], tau: float) -> list[LabelRow]:
    """One row per id, in the order given. Per (item, order) the first readable attempt counts."""
    scored: dict[tuple[int, Order], tuple[float, float]] = {}
    for v in sorted(verdicts, key=lambda v: v.attempt):
        if v.parse_error is None and v.teacher_score is not None and v.student_score is not None:
            scored.setdefault((v.instruction_id, v.order), (v.teacher_score, v.student_score))
    rows: list[LabelRow] = []
    for iid in ids:
        pair = [scored.get((iid, o)) for o in (Order.TEACHER_FIRST, Order.STUDENT_FIRST)]
        if pair[0] is None or pair[1] is None:
            rows.append(LabelRow(iid, None, None, None, Label.UNSCORED, None))
            continue
        (t1, s1), (t2, s2) = pair[0], pair[1]
        teacher, student = (t1 + t2) / 2, (s1 + s2) / 2
        gap = teacher - student
        label = Label.HARD if gap >= tau else Label.EASY
        rows.append(LabelRow(iid, teacher, student, gap, label, _winner(t1, s1) != _winner(t2, s2)))
    return rows


def summarize(rows: Sequence[LabelRow]) -> dict[str, float | int | None]:
    """Counts, hard rate (over scored items), mean gap and the referee's order consistency (the share
    of scored items whose winner is the same in both orders)."""
    hard = sum(r.label is Label.HARD for r in rows)
    easy = sum(r.label is Label.EASY for r in rows)
    scored = [r for r in rows if r.gap is not None]
    return {
        "hard": hard,
        "easy": easy,
        "unscored": len(rows) - hard - easy,
        "hard_rate": hard / len(scored) if scored else 0.0,
        "mean_gap": sum(r.gap for r in scored if r.gap is not None) / len(scored) if scored else None,
        "order_consistency": sum(not r.order_flip for r in scored) / len(scored) if scored else 0.0,
    }
