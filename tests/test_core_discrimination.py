"""Labels from referee verdicts in both orders: mean scores, gap, hard/easy at τ, unscored items
(every attempt of one order unreadable), order flips and the per-iteration summary; and the same
through the real store (judgements written, read back, labels saved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lion_cli.core.discrimination import LabelRow, label_items, summarize
from lion_cli.core.types import Label, Order, SeedItem
from lion_cli.store.db import open_store
from lion_cli.store.loop_rows import Verdict, replace_labels, save_judgement, verdicts
from lion_cli.store.pools import import_seeds

T, S = Order.TEACHER_FIRST, Order.STUDENT_FIRST


def ok(iid: int, order: Order, teacher: float, student: float, attempt: int = 0) -> Verdict:
    return Verdict(iid, order, attempt, teacher, student, None)


def bad(iid: int, order: Order, attempt: int = 0) -> Verdict:
    return Verdict(iid, order, attempt, None, None, "no scores found")


def test_gap_is_mean_teacher_minus_mean_student() -> None:
    rows = label_items([1], [ok(1, T, 9, 6), ok(1, S, 8, 7)], tau=1.0)
    assert rows == [LabelRow(1, 8.5, 6.5, 2.0, Label.HARD, False)]


@pytest.mark.parametrize(("t1", "s1", "t2", "s2", "tau", "label"), [
    (8, 7, 8, 7, 1.0, Label.HARD),     # gap exactly τ is hard
    (8, 7, 8, 7.5, 1.0, Label.EASY),   # gap 0.75
    (8, 7, 8, 7.5, 0.75, Label.HARD),
    (6, 8, 6, 8, 1.0, Label.EASY),     # the student wins: negative gap
    (10, 1, 1, 10, 1.0, Label.EASY),   # the orders cancel: gap 0
    (9, 2, 9, 2, 7.0, Label.HARD),
    (9, 2, 9, 2, 7.5, Label.EASY),
])
def test_threshold(t1: float, s1: float, t2: float, s2: float, tau: float, label: Label) -> None:
    (row,) = label_items([5], [ok(5, T, t1, s1), ok(5, S, t2, s2)], tau)
    assert row.label is label
    assert row.gap == pytest.approx((t1 + t2) / 2 - (s1 + s2) / 2)


def test_unscored_when_either_order_has_no_readable_attempt() -> None:
    vs = [
        ok(1, T, 9, 5), bad(1, S, 0), bad(1, S, 1),    # both attempts of one order failed
        bad(2, T, 0), ok(2, T, 7, 7, attempt=1), ok(2, S, 7, 6),  # the retry succeeded: scored
        ok(3, T, 8, 8),                                 # the other order never ran
        bad(4, T), bad(4, S),
    ]
    rows = label_items([1, 2, 3, 4, 5], vs, tau=1.0)  # 5: no verdict at all
    assert [r.label for r in rows] == [Label.UNSCORED, Label.EASY, Label.UNSCORED, Label.UNSCORED, Label.UNSCORED]
    assert rows[0] == LabelRow(1, None, None, None, Label.UNSCORED, None)
    assert rows[1].gap == pytest.approx(0.5)


def test_first_readable_attempt_counts_whatever_the_input_order() -> None:
    vs = [ok(1, T, 5, 9, attempt=2), ok(1, T, 9, 5, attempt=1), bad(1, T, attempt=0), ok(1, S, 9, 5)]
    for order in (vs, vs[::-1]):
        (row,) = label_items([1], order, tau=1.0)
        assert (row.teacher_score, row.student_score, row.label) == (9, 5, Label.HARD)


def test_rows_follow_the_ids_given_and_ignore_other_items() -> None:
    vs = [ok(i, o, 8, 6) for i in (3, 1, 2, 99) for o in Order]
    assert [r.instruction_id for r in label_items([2, 3, 1], vs, tau=1.0)] == [2, 3, 1]


def test_order_flip() -> None:
    rows = label_items([1, 2, 3, 4], [
        ok(1, T, 8, 6), ok(1, S, 8, 6),    # teacher wins both: consistent
        ok(2, T, 8, 6), ok(2, S, 6, 8),    # the answer shown first wins each time: a flip
        ok(3, T, 7, 7), ok(3, S, 7, 7),    # tie both times: consistent
        ok(4, T, 7, 7), ok(4, S, 8, 7),    # tie, then the teacher wins: a flip
    ], tau=1.0)
    assert [r.order_flip for r in rows] == [False, True, False, True]


def test_summary() -> None:
    rows = label_items([1, 2, 3, 4, 5], [
        ok(1, T, 9, 5), ok(1, S, 9, 5),    # gap 4 hard
        ok(2, T, 8, 6), ok(2, S, 6, 8),    # gap 0 easy, flip
        ok(3, T, 6, 8), ok(3, S, 6, 8),    # gap -2 easy
        ok(4, T, 9, 8), bad(4, S),         # unscored
        ok(5, T, 8, 7), ok(5, S, 8, 7),    # gap 1 hard
    ], tau=1.0)
    summary = summarize(rows)
    assert summary == {"hard": 2, "easy": 2, "unscored": 1, "hard_rate": 0.5,
                       "mean_gap": pytest.approx(0.75), "order_consistency": 0.75}


def test_summary_with_nothing_scored() -> None:
    summary = summarize(label_items([1, 2], [bad(1, T), bad(2, S)], tau=1.0))
    assert summary == {"hard": 0, "easy": 0, "unscored": 2, "hard_rate": 0.0, "mean_gap": None,
                       "order_consistency": 0.0}
    assert summarize([]) == {"hard": 0, "easy": 0, "unscored": 0, "hard_rate": 0.0, "mean_gap": None,
                             "order_consistency": 0.0}


def test_through_the_store(tmp_path: Path) -> None:
    """Verdicts saved as the pipeline saves them, read back, labelled and written as labels."""
    with open_store(tmp_path / "lion.db") as store:
        import_seeds(store, [SeedItem(f"Instruction number {i}.") for i in range(4)], "p")
        ids = [r[0] for r in store.query("SELECT id FROM instructions ORDER BY id")]
        plan = [  # (id, order, attempt, teacher, student, parse error)
            (ids[0], T, 0, 9.0, 6.0, None), (ids[0], S, 0, 8.0, 7.0, None),
            (ids[1], T, 0, None, None, "no scores found"), (ids[1], T, 1, 7.0, 7.0, None),
            (ids[1], S, 0, 7.0, 8.0, None),
            (ids[2], T, 0, 9.0, 1.0, None), (ids[2], S, 0, None, None, "x"), (ids[2], S, 1, None, None, "y"),
        ]
        for iid, order, attempt, t, s, err in plan:
            save_judgement(store, iid, 0, order, attempt, "ref", "raw", t, s, err)
        rows = label_items(ids, verdicts(store, 0), tau=1.0)
        replace_labels(store, 0, rows)
        got = [tuple(r) for r in store.query(
            "SELECT instruction_id, teacher_score, student_score, gap, label, order_flip FROM labels"
            " WHERE iteration=0 ORDER BY instruction_id")]
        assert got == [(ids[0], 8.5, 6.5, 2.0, "hard", 0), (ids[1], 7.0, 7.5, -0.5, "easy", 1),
                       (ids[2], None, None, None, "unscored", None), (ids[3], None, None, None, "unscored", None)]
