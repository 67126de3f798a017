"""The student's side of the totals (core/totals.py StudentWork): the current iteration's Train Pools,
training job and answers, and how fast the loop's training and generation jobs have gone.

Read by store/totals.py's TotalsReader, every second in the dashboard: a finished job never changes,
so its measurements are read once and kept; the running job's are read again."""

from __future__ import annotations

import statistics
from itertools import pairwise

from lion_cli.core.totals import StudentWork
from lion_cli.store.db import Store
from lion_cli.store.progress import student_path
from lion_cli.store.tallies import RowCounter


class StudentWorkReader:
    def __init__(self) -> None:
        self._answers = RowCounter("responses", "iteration", where="role = 'student'")
        self._train_pools: dict[int, int] = {}
        self._finished_steps: dict[int, list[float]] = {}   # finished training job → its seconds per step

    def read(self, store: Store, iteration: int) -> StudentWork:
        self._answers.read(store)
        return StudentWork(
            train_pool_sizes={it: self._train_pool(store, it) for it in range(iteration + 1)},
            trained=student_path(store, iteration) is not None, train_job=_train_job(store, iteration),
            seconds_per_step=self._seconds_per_step(store), answered=self._answers.counts.get(iteration, 0),
            rows_per_s=_rows_per_s(store))

    def _train_pool(self, store: Store, iteration: int) -> int:
        """A Train Pool is written whole before its iteration becomes the current one: counted once."""
        if iteration not in self._train_pools:
            self._train_pools[iteration] = int(store.scalar(
                "SELECT COUNT(*) FROM pool_members WHERE iteration = ? AND pool = 'train'", (iteration,)) or 0)
        return self._train_pools[iteration]

    def _seconds_per_step(self, store: Store) -> float | None:
        """The median, over consecutive logged steps of the loop's training jobs, of the seconds per
        optimizer step: a pause between a kill and its resume is one outlier, not a slower rate."""
        durations: list[float] = []
        for job_id, status in store.query("SELECT id, status FROM train_jobs WHERE kind = 'train'"
                                          " AND iteration IS NOT NULL ORDER BY id"):
            steps = self._finished_steps.get(job_id)
            if steps is None:
                steps = _step_durations(store, job_id)
                if status != "running":
                    self._finished_steps[job_id] = steps
            durations += steps
        return statistics.median(durations) if durations else None


def _step_durations(store: Store, job_id: int) -> list[float]:
    rows = store.query("SELECT step, ts FROM train_metrics WHERE job_id = ? AND ts IS NOT NULL ORDER BY step",
                       (job_id,))
    return [(b["ts"] - a["ts"]) / (b["step"] - a["step"]) for a, b in pairwise(rows)
            if b["step"] > a["step"] and b["ts"] > a["ts"]]


def _train_job(store: Store, iteration: int) -> tuple[int, int] | None:
    """(last step, total steps) of the iteration's newest training job, once it knows its total."""
    rows = store.query("SELECT id, total_steps FROM train_jobs WHERE kind = 'train' AND iteration = ?"
                       " ORDER BY id DESC LIMIT 1", (iteration,))
    if not rows or not rows[0]["total_steps"]:
        return None
    step = store.scalar("SELECT MAX(step) FROM train_metrics WHERE job_id = ?", (rows[0]["id"],))
    return int(step or 0), int(rows[0]["total_steps"])


def _rows_per_s(store: Store) -> float | None:
    """Rows per second of the finished student generation jobs (model loading included)."""
    rows, seconds = store.query(
        "SELECT SUM(total_steps), SUM((julianday(finished_at) - julianday(started_at)) * 86400.0) FROM train_jobs"
        " WHERE kind = 'generate' AND status = 'done' AND total_steps > 0 AND finished_at IS NOT NULL")[0]
    return rows / seconds if rows and seconds and seconds > 0 else None
