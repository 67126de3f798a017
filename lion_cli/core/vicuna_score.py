"""Vicuna-80 arithmetic, the paper's two settings: the student's total judge score as a percentage of
the reference's (the teacher's, or ChatGPT's stored answers).

- Setting 1 (Vicuna's own review): one verdict per question, the reference shown as Assistant 1 and
  the student as Assistant 2; the judge scores both answers.
- Setting 2 (Wang et al.'s calibrations): Multiple Evidence Calibration, the judge writes its
  evidence before its scores, k samples per order; Balanced Position Calibration, both orders. An
  answer's score is the mean over the 2k verdicts; a verdict that stays unreadable after its retries
  is left out of that mean, and the question counts only while each order kept at least one
  readable verdict (so both positions weigh in every counted question).

A question unscored in a setting leaves that setting's totals (the same policy as the discrimination
stage); the two settings are counted apart, so each one's percentage is over its own questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lion_cli.core.types import Order, teacher_student

Pair = tuple[float, float]  # (reference score, student score)


@dataclass(frozen=True, slots=True)
class VicunaJudged:
    """One question's final scores per setting as (reference, student); None = unscored or not run."""

    question_id: int
    category: str
    setting1: Pair | None
    setting2: Pair | None

    def scores(self, setting: int) -> Pair | None:
        return self.setting1 if setting == 1 else self.setting2


@dataclass(frozen=True, slots=True)
class VicunaRatio:
    setting: int                   # 1 or 2
    category: str                  # a category name or "overall"
    n: int                         # questions counted
    unscored: int
    student_total: float
    reference_total: float
    pct: float                     # student_total as % of reference_total


def setting2_pair(verdicts: Sequence[tuple[Order, Pair | None]]) -> Pair | None:
    """(reference, student) averaged over every readable verdict of both orders; each verdict's scores
    are (shown first, shown second) under its order. None unless each order has a readable verdict."""
    read = [(order, s) for order, s in verdicts if s is not None]
    if {order for order, _ in read} != {Order.TEACHER_FIRST, Order.STUDENT_FIRST}:
        return None
    pairs = [teacher_student(order, s[0], s[1]) for order, s in read]
    return sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs)


def _pct(num: float, den: float) -> float:
    return 100.0 * num / den if den else 0.0


def _ratio(setting: int, category: str, items: Sequence[VicunaJudged]) -> VicunaRatio:
    scored = [p for p in (j.scores(setting) for j in items) if p is not None]
    reference, student = sum(p[0] for p in scored), sum(p[1] for p in scored)
    return VicunaRatio(setting, category, len(scored), len(items) - len(scored), student, reference,
                       _pct(student, reference))


def vicuna_ratios(judged: Sequence[VicunaJudged], settings: Sequence[int] = (1, 2)) -> list[VicunaRatio]:
    """Per setting: one row per category (sorted by name), then the "overall" row."""
    cats = sorted({j.category for j in judged})
    rows = []
    for setting in settings:
        rows += [_ratio(setting, c, [j for j in judged if j.category == c]) for c in cats]
        rows.append(_ratio(setting, "overall", judged))
    return rows
