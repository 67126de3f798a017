"""The reads only the dashboard makes (lion_cli/tui/queries.py turns them into its view).

Each is cheap on a store with 100K answers: per-iteration aggregates use the (iteration, …) indexes
of migration 0002, the small tables (runs, run_lock, iterations, stages) are read whole, and the
latest-rows lists read a few rows from the end of an index."""

from __future__ import annotations

from typing import Any

from lion_cli.store.db import Store


def _one(store: Store, sql: str, params: Any = ()) -> dict[str, Any] | None:
    rows = store.query(sql, params)
    return dict(rows[0]) if rows else None


def project_name(store: Store) -> str | None:
    value = store.scalar("SELECT name FROM project WHERE id = 1")
    return None if value is None else str(value)


def latest_run(store: Store) -> dict[str, Any] | None:
    return _one(store, "SELECT * FROM runs ORDER BY id DESC LIMIT 1")


def run_lock(store: Store) -> dict[str, Any] | None:
    return _one(store, "SELECT * FROM run_lock WHERE id = 1")


def last_event_ts(store: Store) -> float | None:
    value = store.scalar("SELECT ts FROM events ORDER BY id DESC LIMIT 1")
    return None if value is None else float(value)


def gap_groups(store: Store, iteration: int) -> list[tuple[float, int, int, int]]:
    """(gap, labels, order flips, labels with an order flip known) per distinct gap of an
    iteration's scored labels. The labels_gap index hands them over already grouped and in gap order."""
    return [(r[0], r[1], r[2] or 0, r[3]) for r in store.query(
        "SELECT gap, COUNT(*), SUM(order_flip), COUNT(order_flip) FROM labels"
        " WHERE iteration = ? AND gap IS NOT NULL AND label != 'unscored' GROUP BY gap", (iteration,))]


def latest_hard(store: Store, iteration: int, limit: int) -> list[tuple[int, float, str]]:
    """(instruction id, gap, text) of an iteration's newest hard labels."""
    return [(r[0], r[1], r[2]) for r in store.query(
        "SELECT l.instruction_id, l.gap, i.text FROM labels l JOIN instructions i ON i.id = l.instruction_id"
        " WHERE l.iteration = ? AND l.label = 'hard' ORDER BY l.instruction_id DESC LIMIT ?", (iteration, limit))]


def candidate_outcomes(store: Store, iteration: int) -> list[tuple[bool, str | None, int]]:
    """(accepted, reject reason, count) of an iteration's candidates (the candidates_reason index)."""
    return [(bool(r[0]), r[1], r[2]) for r in store.query(
        "SELECT accepted, reject_reason, COUNT(*) FROM candidates WHERE iteration = ?"
        " GROUP BY accepted, reject_reason", (iteration,))]


def newest_candidate_id(store: Store) -> int:
    return int(store.scalar("SELECT MAX(id) FROM candidates") or 0)


def latest_accepted(store: Store, limit: int) -> list[tuple[int, str, str, int]]:
    """(instruction id, text, kind, iteration) of the newest accepted candidates."""
    return [(r[0], r[1], r[2], r[3]) for r in store.query(
        "SELECT instruction_id, text, kind, iteration FROM candidates WHERE accepted = 1 AND instruction_id"
        " IS NOT NULL ORDER BY id DESC LIMIT ?", (limit,))]


def search_instructions(store: Store, text: str, limit: int) -> list[dict[str, Any]]:
    """The newest instructions whose text contains `text` (LIKE wildcards in it are literal)."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [dict(r) for r in store.query(
        "SELECT id, text, origin, iteration FROM instructions WHERE text LIKE ? ESCAPE '\\'"
        " ORDER BY id DESC LIMIT ?", (pattern, limit))]


def instruction_detail(store: Store, instruction_id: int) -> dict[str, Any] | None:
    """One instruction with its answers (teacher first), referee verdicts and labels, as dicts."""
    row = _one(store, "SELECT * FROM instructions WHERE id = ?", (instruction_id,))
    if row is None:
        return None
    row["responses"] = [dict(r) for r in store.query(
        "SELECT * FROM responses WHERE instruction_id = ? ORDER BY CASE role WHEN 'teacher' THEN 0 ELSE 1 END,"
        " iteration, id", (instruction_id,))]
    row["judgements"] = [dict(r) for r in store.query(
        "SELECT * FROM judgements WHERE instruction_id = ? ORDER BY iteration,"
        " CASE order_name WHEN 'teacher_first' THEN 0 ELSE 1 END, attempt", (instruction_id,))]
    row["labels"] = [dict(r) for r in store.query(
        "SELECT * FROM labels WHERE instruction_id = ? ORDER BY iteration", (instruction_id,))]
    return row


def hardest_by_gap(store: Store, iteration: int, limit: int) -> list[tuple[int, float, float, float, str]]:
    """(instruction id, gap, teacher score, student score, text) of an iteration's scored labels with
    the largest gap first (the labels_gap index walked backwards)."""
    return [(r[0], r[1], r[2], r[3], r[4]) for r in store.query(
        "SELECT l.instruction_id, l.gap, l.teacher_score, l.student_score, i.text FROM labels l"
        " JOIN instructions i ON i.id = l.instruction_id WHERE l.iteration = ? AND l.gap IS NOT NULL"
        " ORDER BY l.gap DESC, l.instruction_id LIMIT ?", (iteration, limit))]


def referee_replies(store: Store, iteration: int) -> tuple[int, int]:
    """(replies the parser read, all replies) of an iteration's referee, every attempt counted."""
    row = store.query("SELECT COUNT(*), COALESCE(SUM(parse_error IS NULL), 0) FROM judgements"
                      " WHERE iteration = ?", (iteration,))[0]
    return int(row[1]), int(row[0])


TRAINING_KINDS = ("train", "dpo")  # the jobs that train weights (SFT or distillation, and DPO); not generation


def training_jobs(store: Store) -> list[dict[str, Any]]:
    """Every training job (SFT and DPO), newest first (train_jobs is small: a few rows per iteration)."""
    return [dict(r) for r in store.query(
        "SELECT id, iteration, kind, status, total_steps, output_dir FROM train_jobs WHERE kind IN (?, ?)"
        " ORDER BY id DESC", TRAINING_KINDS)]


def loss_curve(store: Store, job_id: int) -> list[dict[str, Any]]:
    """One job's train_metrics rows in step order (its primary key)."""
    return [dict(r) for r in store.query(
        "SELECT * FROM train_metrics WHERE job_id = ? ORDER BY step", (job_id,))]
