"""Training (and other subprocess) jobs and their metric stream: train_jobs / train_metrics.

The dashboard draws the loss curve from train_metrics while a job runs, so each metric is written
in its own short transaction as it arrives.
"""

from __future__ import annotations

import time
from typing import Any

from lion_cli.store.db import Store
from lion_cli.store.paths import stored_path, stored_spec_json

JOB_STATUSES = ("running", "done", "failed", "cancelled")
# A DPO job's step lines carry these too (migration 0014); NULL for other jobs.
DPO_METRICS = ("rewards_chosen", "rewards_rejected", "margin", "accuracy")
# A distillation job's checkpoint steps carry the held-out KL to the teacher (migration 0016).
STEP_METRICS = (*DPO_METRICS, "heldout_kl")


def start_job(store: Store, iteration: int | None, kind: str, spec_json: str, output_dir: str,
              total_steps: int | None) -> int:
    """A job row; its paths inside the project are stored relative to it (store/paths.py)."""
    with store.tx() as c:
        cur = c.execute("INSERT INTO train_jobs (iteration, kind, spec_json, output_dir, total_steps)"
                        " VALUES (?,?,?,?,?)", (iteration, kind, stored_spec_json(store, spec_json),
                                                stored_path(store, output_dir), total_steps))
    return int(cur.lastrowid or 0)


def project_job_id(store: Store, iteration: int, kind: str) -> str:
    """The identity of the project's job `kind` of `iteration`, the same across resumes and copies of
    the project, new for a project created afresh (`lion init --force`) in the same folder."""
    created = store.scalar("SELECT created_at FROM project WHERE id = 1")
    return f"project created {created} · iteration {iteration} · {kind}"


def add_metric(store: Store, job_id: int, metric: dict[str, Any]) -> bool:
    """Record one metrics.jsonl line; event lines ({"event": ...}) and lines without a step are skipped.

    A step seen again (a resumed run repeats the steps after its last checkpoint) replaces the old row.
    The job's total_steps is filled from the first metric that carries it. Returns True if written.
    """
    step = metric.get("step")
    if "event" in metric or not isinstance(step, int):
        return False

    def num(key: str) -> float | None:
        v = metric.get(key)
        return float(v) if isinstance(v, int | float) else None

    tokens = metric.get("tokens")
    with store.tx() as c:
        store.db.table("train_metrics").upsert(
            {"job_id": job_id, "step": step, "epoch": num("epoch"), "loss": num("loss"), "lr": num("lr"),
             "tokens": tokens if isinstance(tokens, int) else None, "tokens_per_s": num("tokens_per_s"),
             "ts": num("ts") or time.time(), **{k: num(k) for k in STEP_METRICS}}, pk=("job_id", "step"))
        total = metric.get("total_steps")
        if isinstance(total, int):
            c.execute("UPDATE train_jobs SET total_steps=? WHERE id=? AND total_steps IS NOT ?", (total, job_id, total))
    return True


def finish_job(store: Store, job_id: int, status: str, exit_code: int | None, error: str | None) -> None:
    if status not in JOB_STATUSES:
        raise ValueError(f"job status {status!r}: expected one of {', '.join(JOB_STATUSES)}")
    with store.tx() as c:
        c.execute("UPDATE train_jobs SET status=?, exit_code=?, error=?,"
                  " finished_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id=?", (status, exit_code, error, job_id))


def job_metrics(store: Store, job_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM train_metrics WHERE job_id=? ORDER BY step", (job_id,))]


def dpo_jobs_last_step(store: Store) -> list[dict[str, Any]]:
    """Each project DPO job (iteration set) with its status, total steps, output folder, and the step,
    margin and accuracy of its last metric (None before the first), oldest first."""
    return [dict(r) for r in store.query(
        "SELECT j.iteration, j.status, j.total_steps, j.output_dir, m.step, m.margin, m.accuracy FROM train_jobs j"
        " LEFT JOIN train_metrics m"
        " ON m.job_id = j.id AND m.step = (SELECT MAX(step) FROM train_metrics WHERE job_id = j.id)"
        " WHERE j.kind = 'dpo' AND j.iteration IS NOT NULL ORDER BY j.id")]


def imitation_heldout_kl(store: Store) -> list[dict[str, Any]]:
    """Each project training job (iteration set) with a held-out KL: its iteration, status, and the step and
    value of its latest one, oldest job first."""
    return [dict(r) for r in store.query(
        "SELECT j.iteration, j.status, m.step, m.heldout_kl FROM train_jobs j JOIN train_metrics m"
        " ON m.job_id = j.id AND m.step = (SELECT MAX(step) FROM train_metrics"
        " WHERE job_id = j.id AND heldout_kl IS NOT NULL)"
        " WHERE j.kind = 'train' AND j.iteration IS NOT NULL ORDER BY j.id")]
