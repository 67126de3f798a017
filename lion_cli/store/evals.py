"""Evaluation results and their samples (tables eval_results / eval_samples).

One row per (model, benchmark, task, mode): evaluating the same model again replaces its row and
samples, so the table always holds the latest run. `accuracy` is a fraction (0–1); for Vicuna-80
it is the student's total judge score relative to the reference's (0.94 = 94 %).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lion_cli.store.db import Store
from lion_cli.store.paths import read_path, stored_path


@dataclass(frozen=True, slots=True)
class EvalSample:
    idx: int
    prompt: str
    reply: str
    extracted: str | None
    target: str | None
    correct: float | None


@dataclass(frozen=True, slots=True)
class EvalRow:
    id: int
    model: str
    iteration: int | None
    benchmark: str
    task: str
    mode: str
    n: int
    correct: float
    accuracy: float
    skipped: int
    detail: dict[str, Any]
    created_at: str


def _stored_model(store: Store, model: str) -> str:
    """A model folder inside the project is stored as ./relative/path (a label such as student-it0
    never starts with ./), so a copied project's results name its own folder."""
    if not Path(model).is_absolute():
        return model
    inside = stored_path(store, model)
    return model if Path(inside).is_absolute() else f"./{inside}"


def _read_model(store: Store, model: str) -> str:
    return read_path(store, model[2:]) if model.startswith("./") else model


def save_result(store: Store, *, model: str, iteration: int | None, benchmark: str, task: str, mode: str,
                n: int, correct: float, accuracy: float, skipped: int = 0, detail: dict[str, Any] | None = None,
                samples: Sequence[EvalSample] = ()) -> int:
    """Replace the (model, benchmark, task, mode) result with this one and its samples; returns its id."""
    model = _stored_model(store, model)
    with store.tx() as c:
        old = c.execute("SELECT id FROM eval_results WHERE model=? AND benchmark=? AND task=? AND mode=?",
                        (model, benchmark, task, mode)).fetchone()
        if old is not None:
            c.execute("DELETE FROM eval_samples WHERE result_id=?", (old[0],))
            c.execute("DELETE FROM eval_results WHERE id=?", (old[0],))
        cur = c.execute(
            "INSERT INTO eval_results (model, iteration, benchmark, task, mode, n, correct, accuracy, skipped,"
            " detail_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (model, iteration, benchmark, task, mode, n, correct, accuracy, skipped,
             json.dumps(detail or {}, ensure_ascii=False)))
        rid = int(cur.lastrowid or 0)
        store.db.table("eval_samples").insert_all({"result_id": rid, **asdict(s)} for s in samples)
    return rid


def _row(store: Store, r: Any) -> EvalRow:
    return EvalRow(r["id"], _read_model(store, r["model"]), r["iteration"], r["benchmark"], r["task"], r["mode"],
                   r["n"], r["correct"], r["accuracy"], r["skipped"], json.loads(r["detail_json"] or "{}"),
                   r["created_at"])


def results(store: Store, *, benchmark: str | None = None, model: str | None = None,
            mode: str | None = None) -> list[EvalRow]:
    """Stored results, ordered by iteration, model, benchmark, task, mode."""
    where, params = [], []
    stored_model = None if model is None else _stored_model(store, model)
    for col, value in (("benchmark", benchmark), ("model", stored_model), ("mode", mode)):
        if value is not None:
            where.append(f"{col}=?")
            params.append(value)
    sql = "SELECT * FROM eval_results" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY COALESCE(iteration, -1), model, benchmark, task, mode"
    return [_row(store, r) for r in store.query(sql, params)]


def samples(store: Store, result_id: int) -> list[EvalSample]:
    return [EvalSample(r["idx"], r["prompt"], r["reply"], r["extracted"], r["target"], r["correct"])
            for r in store.query("SELECT * FROM eval_samples WHERE result_id=? ORDER BY idx", (result_id,))]
