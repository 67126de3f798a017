"""Exporting what the loop distilled: the training set and the judged pairs.

- training set: instruction, input, teacher answer, origin (seed / hard / easy), the iteration that
  created the instruction. With an iteration: exactly what that iteration's student was trained on
  (the cumulative set or that iteration's Train Pool, as [loop] train_from says); without: every
  instruction that was ever in a Train Pool and has a teacher answer.
- judged pairs, in TRL's DPO layout: for each labelled Cache Pool instruction, `prompt` (the user turn),
  `chosen` and `rejected` (the answer the referee scored higher, the teacher's on a tie, and the other),
  `chosen_from`, both averaged referee scores, the gap, the label, the iteration and the referee's reply
  in each order. Unscored items are left out.

The layouts are in export/data_formats.py. Answers come from the store under the project's current
teacher/student settings hashes, the same keys the loop used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lion_cli.core.answer_keys import AnswerKeys
from lion_cli.core.seed_records import user_text
from lion_cli.core.training_set import trained_iterations
from lion_cli.core.types import Order, Role
from lion_cli.export.data_formats import FORMATS, WRITERS, jsonl_text, pairs_path, parquet_bytes, write_atomic
from lion_cli.store.db import Store
from lion_cli.store.exports import JudgedLabel, judged_labels, referee_replies
from lion_cli.store.loop_rows import answers
from lion_cli.store.pools import get_instructions
from lion_cli.store.training_set import train_pool_ids

__all__ = ["FORMATS", "ExportSource", "export_data", "pair_rows", "pairs_path", "training_rows"]


@dataclass(frozen=True)
class ExportSource:
    """Where the answers are and the keys the loop stored them under; no API is involved."""

    store: Store
    keys: AnswerKeys
    train_from: str  # [loop] train_from: what an iteration's student was trained on


def training_rows(src: ExportSource, iteration: int | None = None) -> list[dict[str, Any]]:
    """The distilled training set, in instruction id order."""
    its = None if iteration is None else trained_iterations(src.train_from, iteration)
    ids = train_pool_ids(src.store, its)
    got = answers(src.store, ids, Role.TEACHER.value, src.keys.teacher_model, src.keys.teacher_hash)
    return [{"instruction": ins.text, "input": ins.input, "output": got[ins.id], "origin": ins.origin.value,
             "iteration": ins.iteration} for ins in get_instructions(src.store, ids) if ins.id in got]


def _dpo_row(r: JudgedLabel, instruction: str, input_text: str, teacher: str, student: str,
             replies: dict[tuple[int, int, str], str]) -> dict[str, Any]:
    teacher_wins = r.teacher_score >= r.student_score
    return {"prompt": user_text(instruction, input_text), "chosen": teacher if teacher_wins else student,
            "rejected": student if teacher_wins else teacher, "chosen_from": "teacher" if teacher_wins else "student",
            "instruction": instruction, "input": input_text, "teacher_score": r.teacher_score,
            "student_score": r.student_score, "gap": r.gap, "label": r.label.value, "iteration": r.iteration,
            **{f"referee_{o.value}": replies.get((r.iteration, r.instruction_id, o.value), "") for o in Order}}


def pair_rows(src: ExportSource, iteration: int | None = None) -> list[dict[str, Any]]:
    """Judged (teacher answer, student answer) pairs in TRL's DPO layout, per labelled iteration."""
    labels = judged_labels(src.store, iteration)
    ids = sorted({r.instruction_id for r in labels})
    by_id = {ins.id: ins for ins in get_instructions(src.store, ids)}
    teacher = answers(src.store, ids, Role.TEACHER.value, src.keys.teacher_model, src.keys.teacher_hash)
    replies = referee_replies(src.store, iteration)
    students: dict[int, dict[int, str]] = {}
    out = []
    for r in labels:
        it, iid = r.iteration, r.instruction_id
        if it not in students:
            students[it] = answers(src.store, ids, Role.STUDENT.value, src.keys.student_label(it),
                                   src.keys.student_hash)
        if iid not in teacher or iid not in students[it]:
            continue  # answers made under other settings: not this project's current pairs
        out.append(_dpo_row(r, by_id[iid].text, by_id[iid].input, teacher[iid], students[it][iid], replies))
    return out


def _write_pairs(pairs: list[dict[str, Any]], out: Path, fmt: str) -> Path:
    path = pairs_path(out, fmt)
    write_atomic(path, parquet_bytes(pairs, ("prompt", "chosen", "rejected")) if fmt == "parquet"
                 else jsonl_text(pairs))
    return path


def export_data(src: ExportSource, fmt: str, out: Path, iteration: int | None = None,
                with_pairs: bool = True) -> dict[str, Any]:
    """Write the training set (and the pairs, even when there are none) in `fmt`; returns what was
    written where. ValueError for an unknown format or a layout that cannot be written there."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    rows = training_rows(src, iteration)
    pairs = pair_rows(src, iteration) if with_pairs else []
    WRITERS[fmt](rows, out)
    written: dict[str, Any] = {"format": fmt, "out": str(out), "examples": len(rows), "pairs": len(pairs),
                               "pairs_out": None}
    if with_pairs:
        written["pairs_out"] = str(_write_pairs(pairs, out, fmt))
    return written
