"""Exporting what the loop distilled: the training set and the judged pairs.

- training set: instruction, input, teacher answer, origin (seed / hard / easy), the iteration that
  created the instruction. With an iteration: exactly what that iteration's student was trained on
  (the cumulative set or that iteration's Train Pool, as [loop] train_from says); without: every
  instruction that was ever in a Train Pool and has a teacher answer.
- judged pairs: for each labelled Cache Pool instruction, the teacher's and the student's answers
  with both averaged referee scores, the gap and the label — ready for a preference (DPO) stage.
  Unscored items are left out.

Formats: alpaca (a JSON array of instruction/input/output, which `lion init --seed` reads back
unchanged), jsonl (one object per line, every field), sharegpt (conversations), hf (a folder
that `datasets.load_dataset(folder)` reads: train.jsonl, pairs.jsonl and a README with the configs).
Answers come from the store under the project's current teacher/student settings hashes, the same
keys the loop used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lion_cli.core.answer_keys import AnswerKeys
from lion_cli.core.training_set import trained_iterations
from lion_cli.core.types import Role
from lion_cli.store.db import Store
from lion_cli.store.exports import judged_labels
from lion_cli.store.loop_rows import answers
from lion_cli.store.pools import get_instructions
from lion_cli.store.training_set import train_pool_ids

FORMATS = ("alpaca", "jsonl", "sharegpt", "hf")


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


def pair_rows(src: ExportSource, iteration: int | None = None) -> list[dict[str, Any]]:
    """Judged (teacher answer, student answer) pairs with both scores, per labelled iteration."""
    labels = judged_labels(src.store, iteration)
    ids = sorted({r.instruction_id for r in labels})
    by_id = {ins.id: ins for ins in get_instructions(src.store, ids)}
    teacher = answers(src.store, ids, Role.TEACHER.value, src.keys.teacher_model, src.keys.teacher_hash)
    students: dict[int, dict[int, str]] = {}
    out = []
    for r in labels:
        it, iid = r.iteration, r.instruction_id
        if it not in students:
            students[it] = answers(src.store, ids, Role.STUDENT.value, src.keys.student_label(it),
                                   src.keys.student_hash)
        if iid not in teacher or iid not in students[it]:
            continue  # answers made under other settings: not this project's current pairs
        ins = by_id[iid]
        out.append({"instruction": ins.text, "input": ins.input, "teacher_answer": teacher[iid],
                    "student_answer": students[it][iid], "teacher_score": r.teacher_score,
                    "student_score": r.student_score, "gap": r.gap, "label": r.label.value, "iteration": it})
    return out


def _user_text(row: dict[str, Any]) -> str:
    return row["instruction"] if not row["input"] else f"{row['instruction']}\n\n{row['input']}"


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half an export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonl(rows: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def pairs_path(out: Path, fmt: str) -> Path:
    """Where the judged pairs go: inside an hf folder, else beside the training file."""
    return out / "pairs.jsonl" if fmt == "hf" else out.with_name(f"{out.stem}.pairs.jsonl")


_HF_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.jsonl
- config_name: pairs
  data_files:
  - split: train
    path: pairs.jsonl
---
# Distilled with lion

`train.jsonl`: instruction, input, output (the teacher's answer), origin (seed / hard / easy),
iteration. `pairs.jsonl`: judged pairs (teacher_answer, student_answer, teacher_score,
student_score, gap, label, iteration) for preference training.
"""


def export_data(src: ExportSource, fmt: str, out: Path, iteration: int | None = None,
                with_pairs: bool = True) -> dict[str, Any]:
    """Write the training set (and the pairs) in `fmt`; returns what was written where."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    rows = training_rows(src, iteration)
    pairs = pair_rows(src, iteration) if with_pairs else []
    if fmt == "alpaca":
        # Surrounding whitespace is stripped because `lion init` strips it: the file reads back unchanged.
        alpaca = [{"instruction": r["instruction"], "input": r["input"], "output": r["output"].strip()}
                  for r in rows]
        _write(out, json.dumps(alpaca, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "jsonl":
        _write(out, _jsonl(rows))
    elif fmt == "sharegpt":
        convs = [{"conversations": [{"from": "human", "value": _user_text(r)}, {"from": "gpt", "value": r["output"]}],
                  "origin": r["origin"], "iteration": r["iteration"]} for r in rows]
        _write(out, json.dumps(convs, ensure_ascii=False, indent=1) + "\n")
    else:
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out}: the hf format writes a folder, and this is a file")
        _write(out / "train.jsonl", _jsonl(rows))
        _write(out / "README.md", _HF_CARD)
    written = {"format": fmt, "out": str(out), "examples": len(rows), "pairs": len(pairs), "pairs_out": None}
    if with_pairs and (pairs or fmt == "hf"):
        _write(pairs_path(out, fmt), _jsonl(pairs))
        written["pairs_out"] = str(pairs_path(out, fmt))
    return written
