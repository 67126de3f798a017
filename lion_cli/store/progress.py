"""Iterations, stages and runs: where the loop stands, for resume, `lion status` and the dashboard."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from lion_cli.core.run_state import FINAL_STAGES, RunIterations
from lion_cli.core.types import STAGES, Stage, StageStatus
from lion_cli.core.value_checks import shown_url
from lion_cli.store.db import Store
from lion_cli.store.paths import edited_json_object, read_path, stored_path


@dataclass(frozen=True)
class StageRow:
    iteration: int
    stage: Stage
    status: StageStatus
    step: str
    done: int
    total: int
    detail: dict[str, Any]


def ensure_iteration(store: Store, iteration: int, stages: tuple[Stage, ...] = STAGES) -> None:
    """The iteration's row and its stages' rows (the final imitation's iteration has that stage only)."""
    with store.tx() as c:
        c.execute("INSERT OR IGNORE INTO iterations (iteration) VALUES (?)", (iteration,))
        for s in stages:
            c.execute("INSERT OR IGNORE INTO stages (iteration, stage) VALUES (?, ?)", (iteration, s.value))


def stage_row(store: Store, iteration: int, stage: Stage) -> StageRow | None:
    rows = store.query("SELECT * FROM stages WHERE iteration=? AND stage=?", (iteration, stage.value))
    if not rows:
        return None
    r = rows[0]
    return StageRow(r["iteration"], Stage(r["stage"]), StageStatus(r["status"]), r["step"], r["done"],
                    r["total"], json.loads(r["detail_json"] or "{}"))


# An ORDER BY term: the stages of an iteration in the loop's order.
LOOP_ORDER = "CASE stage WHEN 'imitation' THEN 0 WHEN 'discrimination' THEN 1 ELSE 2 END"


def all_stages(store: Store) -> list[StageRow]:
    rows = store.query(f"SELECT * FROM stages ORDER BY iteration, {LOOP_ORDER}")
    return [StageRow(r["iteration"], Stage(r["stage"]), StageStatus(r["status"]), r["step"], r["done"],
                     r["total"], json.loads(r["detail_json"] or "{}")) for r in rows]


def start_stage(store: Store, iteration: int, stage: Stage) -> None:
    with store.tx() as c:
        c.execute("UPDATE iterations SET status='running', started_at=COALESCE(started_at, "
                  "strftime('%Y-%m-%dT%H:%M:%fZ','now')) WHERE iteration=?", (iteration,))
        c.execute("UPDATE stages SET status='running', started_at=COALESCE(started_at, "
                  "strftime('%Y-%m-%dT%H:%M:%fZ','now')) WHERE iteration=? AND stage=?",
                  (iteration, stage.value))


def update_stage(store: Store, iteration: int, stage: Stage, *, step: str | None = None,
                 done: int | None = None, total: int | None = None) -> None:
    sets, params = [], []
    for col, val in (("step", step), ("done", done), ("total", total)):
        if val is not None:
            sets.append(f"{col}=?")
            params.append(val)
    if sets:
        store.conn.execute(f"UPDATE stages SET {', '.join(sets)} WHERE iteration=? AND stage=?",
                           (*params, iteration, stage.value))


def finish_stage(store: Store, iteration: int, stage: Stage, detail: dict[str, Any],
                 status: StageStatus = StageStatus.DONE) -> None:
    with store.tx() as c:
        c.execute("UPDATE stages SET status=?, step='', detail_json=?, "
                  "finished_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE iteration=? AND stage=?",
                  (status.value, json.dumps(detail, sort_keys=True), iteration, stage.value))
        if status is StageStatus.DONE:  # the iteration is done with its last stage (whichever stages it has)
            c.execute("UPDATE iterations SET status='done', finished_at=strftime('%Y-%m-%dT%H:%M:%fZ','now')"
                      " WHERE iteration=? AND NOT EXISTS (SELECT 1 FROM stages WHERE iteration=? AND status!='done')",
                      (iteration, iteration))


def stop_stage(store: Store, iteration: int, stage: Stage, status: StageStatus, error: str | None = None) -> None:
    """A stage that ended without finishing: `interrupted` (a signal) or `failed` (with its error in
    detail_json's "error"). step/done/total stay as they were, so resume can say where it goes on."""
    with store.tx() as c:
        c.execute("UPDATE stages SET status=?, detail_json=?, finished_at=strftime('%Y-%m-%dT%H:%M:%fZ','now')"
                  " WHERE iteration=? AND stage=?",
                  (status.value, json.dumps({"error": error} if error else {}), iteration, stage.value))


def set_student_path(store: Store, iteration: int, path: str) -> None:
    """Stored relative to the project folder when inside it (store/paths.py)."""
    store.conn.execute("UPDATE iterations SET student_path=? WHERE iteration=?",
                       (stored_path(store, path), iteration))


def student_path(store: Store, iteration: int) -> str | None:
    """The iteration's student folder, absolute, in the project folder of this store."""
    value = store.scalar("SELECT student_path FROM iterations WHERE iteration=?", (iteration,))
    return read_path(store, str(value)) if value else None


def latest_student_iteration(store: Store) -> int | None:
    """The newest iteration that has a trained student, if any."""
    value = store.scalar("SELECT MAX(iteration) FROM iterations WHERE student_path IS NOT NULL")
    return None if value is None else int(value)


def next_position(store: Store, iterations: int) -> tuple[int, Stage] | None:
    """The first stage not done, in loop order, within `iterations` iterations and then the final
    imitation (iteration `iterations`, FINAL_STAGES); None when finished."""
    done = {(r.iteration, r.stage) for r in all_stages(store) if r.status is StageStatus.DONE}
    for it in range(iterations):
        for s in STAGES:
            if (it, s) not in done:
                return it, s
    for s in FINAL_STAGES:
        if (iterations, s) not in done:
            return iterations, s
    return None


def _without_credentials(settings_json: str) -> str:
    """The run's settings as stored: an endpoint's base_url keeps no user:password@ (a key, sometimes)."""
    def strip(settings: dict[str, Any]) -> None:
        for section in settings.values():
            if isinstance(section, dict) and isinstance(section.get("base_url"), str):
                section["base_url"] = shown_url(section["base_url"])

    return edited_json_object(settings_json, strip)


def begin_run(store: Store, settings_json: str, version: str, iterations: int | None = None) -> int:
    """A runs row: lion.toml's settings as loaded, and the iterations this run goes to (--iterations
    or lion.toml's: core/run_state.py planned_iterations)."""
    with store.tx() as c:
        cur = c.execute("INSERT INTO runs (pid, host, settings_json, lion_version, iterations) VALUES (?,?,?,?,?)",
                        (os.getpid(), socket.gethostname(), _without_credentials(settings_json), version,
                         iterations))
        return int(cur.lastrowid or 0)


def last_run_iterations(store: Store) -> RunIterations | None:
    """What the latest run planned, and lion.toml's loop.iterations when it started; None before the
    first run. A store older than migration 0004, opened read-only, records no plan (planned None)."""
    columns = {r[1] for r in store.query("PRAGMA table_info(runs)")}
    planned = "iterations" if "iterations" in columns else "NULL"
    rows = store.query(f"SELECT {planned} AS planned, settings_json FROM runs ORDER BY id DESC LIMIT 1")
    if not rows:
        return None
    try:
        in_toml = json.loads(rows[0]["settings_json"] or "{}").get("loop", {}).get("iterations")
    except (ValueError, AttributeError):
        in_toml = None
    return RunIterations(rows[0]["planned"], in_toml if isinstance(in_toml, int) else None)


def end_run(store: Store, run_id: int, status: str) -> None:
    with store.tx() as c:
        c.execute("UPDATE runs SET status=?, finished_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=?",
                  (status, run_id))
