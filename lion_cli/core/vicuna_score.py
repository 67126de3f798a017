"""Vicuna-80 arithmetic: the student's total judge score as a percentage of the reference's.

Each question is judged twice, once with the reference's answer shown first ("setting 1") and once
with the student's shown first ("setting 2"), which is how the paper reports two settings and their
mean. A question counts only when both orders were scored (a judge reply that cannot be read, after
its retries, removes the question from every total, the same policy as the discrimination stage),
so the two settings compare the same questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VicunaJudged:
    """Both orders of one question. `ref_first` is (reference score, student score) as judged with
    the reference shown first; `student_first` is (student score, reference score). None = unscored."""

    question_id: int
    category: str
    ref_first: tuple[float, float] | None
    student_first: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class VicunaRatio:
    category: str                  # a category name or "overall"
    n: int                         # questions counted
    unscored: int
    student_total: float           # both orders summed
    reference_total: float
    setting1_pct: float            # reference shown first
    setting2_pct: float            # student shown first
    mean_pct: float                # mean of the two settings (the paper's headline)


def _pct(num: float, den: float) -> float:
    return 100.0 * num / den if den else 0.0


def _ratio(category: str, items: Sequence[VicunaJudged]) -> VicunaRatio:
    pairs = [(j.ref_first, j.student_first) for j in items if j.ref_first is not None and j.student_first is not None]
    scored = [(a, b) for a, b in pairs if a is not None and b is not None]
    s1 = sum(a[1] for a, _ in scored)
    r1 = sum(a[0] for a, _ in scored)
    s2 = sum(b[0] for _, b in scored)
    r2 = sum(b[1] for _, b in scored)
    p1, p2 = _pct(s1, r1), _pct(s2, r2)
    return VicunaRatio(category, len(scored), len(items) - len(scored), s1 + s2, r1 + r2, p1, p2, (p1 + p2) / 2)


def vicuna_ratios(judged: Sequence[VicunaJudged]) -> list[VicunaRatio]:
    """One row per category (sorted by name), then the "overall" row."""
    cats = sorted({j.category for j in judged})
    rows = [_ratio(c, [j for j in judged if j.category == c]) for c in cats]
    rows.append(_ratio("overall", judged))
    return rows
