"""Reads for `lion export data`: the labelled (scored) Cache Pool items of one or every iteration, the
referee replies behind them, and which iterations exist."""

from __future__ import annotations

from dataclasses import dataclass

from lion_cli.core.types import Label
from lion_cli.store.db import Store


@dataclass(frozen=True, slots=True)
class JudgedLabel:
    iteration: int
    instruction_id: int
    teacher_score: float
    student_score: float
    gap: float
    label: Label


def judged_labels(store: Store, iteration: int | None = None) -> list[JudgedLabel]:
    """Hard and easy labels (unscored items left out), by iteration then instruction id."""
    where = "label != ?"
    params: tuple[str | int, ...] = (Label.UNSCORED.value,)
    if iteration is not None:
        where += " AND iteration=?"
        params += (iteration,)
    rows = store.query(f"SELECT * FROM labels WHERE {where} ORDER BY iteration, instruction_id", params)
    return [JudgedLabel(int(r["iteration"]), int(r["instruction_id"]), r["teacher_score"], r["student_score"],
                        r["gap"], Label(r["label"])) for r in rows]


def referee_replies(store: Store, iteration: int | None = None) -> dict[tuple[int, int, str], str]:
    """(iteration, instruction id, order) → the referee's reply that counted: the first readable attempt
    (as core/discrimination.py takes it), else the first attempt."""
    where, params = ("WHERE iteration=?", (iteration,)) if iteration is not None else ("", ())
    replies: dict[tuple[int, int, str], str] = {}
    # Later rows overwrite earlier ones: readable attempts come last, and among them the first attempt.
    for r in store.query(f"SELECT iteration, instruction_id, order_name, raw_text FROM judgements {where}"
                         " ORDER BY teacher_score IS NOT NULL AND student_score IS NOT NULL, attempt DESC", params):
        replies[(int(r["iteration"]), int(r["instruction_id"]), r["order_name"])] = r["raw_text"]
    return replies


def iteration_numbers(store: Store) -> list[int]:
    return [int(r[0]) for r in store.query("SELECT iteration FROM iterations ORDER BY iteration")]
