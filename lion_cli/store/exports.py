"""Reads for `lion export data`: the labelled (scored) Cache Pool items of one or every iteration."""

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
