"""Incremental tallies over the append-only tables (responses, instructions, judgements,
train_metrics, events), for readers that look again every second (the dashboard, store/totals.py).

Each keeps the last row id it has seen and on each refresh reads only the rows after it, so a
refresh costs the same on a store of 100 rows or of a million. The tables are written with plain
INSERTs by the loop (a row is never updated once written), which is what makes this exact."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lion_cli.store.dashboard import TRAINING_KINDS
from lion_cli.store.db import Store
from lion_cli.store.paths import read_path

FIRST_EVENTS = 200          # events shown when the dashboard opens on a store with a long history
MAX_EVENTS_PER_READ = 500
MAX_LOSS_POINTS = 20_000    # per job, so a week-long run does not grow the dashboard's memory


@dataclass
class TrainView:
    """The latest training job and its loss curve so far."""

    job_id: int
    iteration: int | None
    status: str
    total_steps: int | None
    output_dir: str
    step: int = 0
    epoch: float | None = None
    lr: float | None = None
    loss: float | None = None
    tokens_per_s: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    kind: str = "train"                 # train (SFT, distillation) | dpo
    margin: float | None = None         # DPO: mean reward margin of chosen over rejected, last step
    accuracy: float | None = None       # DPO: share of pairs ranked right, last step
    heldout_kl: float | None = None     # distillation: KL to the teacher on the held-out rows, last scored

    def add_metric(self, row: Any) -> None:
        """One train_metrics row (in step order) into the view."""
        self.step, self.epoch, self.lr = row["step"], row["epoch"], row["lr"]
        if row["tokens_per_s"] is not None:
            self.tokens_per_s = row["tokens_per_s"]
        if row["loss"] is not None:
            self.loss = row["loss"]
            self.losses.append((row["step"], row["loss"]))
        names = row.keys()
        for key in ("margin", "accuracy", "heldout_kl"):  # columns of migrations 0014, 0016 (older stores lack them)
            if key in names and row[key] is not None:
                setattr(self, key, row[key])


@dataclass(frozen=True)
class EventLine:
    id: int
    ts: float
    level: str
    iteration: int | None
    stage: str | None
    message: str


def _since(last_id: int) -> str:
    """The row filter for rows (last_id, hi]; call inside the refresh's read transaction.

    The first read takes every row, so SQLite may count from its smallest covering index; later
    reads are a range of the rowid b-tree (NOT INDEXED: otherwise the planner may pick a GROUP BY
    index and scan all of it for a handful of new rows)."""
    if last_id == 0:
        return "WHERE ? = 0 AND ? >= 0"   # placeholders kept so both forms take the same parameters
    return "NOT INDEXED WHERE id > ? AND id <= ?"


class RowCounter:
    """COUNT(*) of an append-only table, optionally grouped by one column, read incrementally."""

    def __init__(self, table: str, group_by: str | None = None, where: str = "1") -> None:
        self.table, self.group_by, self.where = table, group_by, where
        self.last_id = 0
        self.counts: dict[Any, int] = {}

    def read(self, store: Store) -> None:
        hi = int(store.scalar(f"SELECT MAX(id) FROM {self.table}") or 0)
        if hi <= self.last_id:
            return
        if self.last_id == 0 and self.group_by is None and self.where == "1":
            # A bare COUNT(*) is answered from the smallest index's page counts; a GROUP BY is not.
            rows = store.query(f"SELECT NULL AS k, COUNT(*) AS n FROM {self.table}")
        else:  # no GROUP BY without a column: grouping by a constant costs a sort of every row
            key, group = (self.group_by, " GROUP BY k") if self.group_by else ("NULL", "")
            rows = store.query(f"SELECT {key} AS k, COUNT(*) AS n FROM {self.table} {_since(self.last_id)}"
                               f" AND {self.where}{group}", (self.last_id, hi))
        for r in rows:
            self.counts[r["k"]] = self.counts.get(r["k"], 0) + r["n"]
        self.last_id = hi

    def total(self) -> int:
        return sum(self.counts.values())


class TrainTally:
    """The latest training job and its loss curve (train_metrics, keyed (job_id, step))."""

    def __init__(self) -> None:
        self.last: tuple[int, int] = (0, -1)
        self.jobs: dict[int, TrainView] = {}

    def read(self, store: Store) -> TrainView | None:
        job = store.query("SELECT * FROM train_jobs WHERE kind IN (?, ?) ORDER BY id DESC LIMIT 1", TRAINING_KINDS)
        if not job:
            return None
        j = job[0]
        view = self.jobs.get(j["id"])
        if view is None:
            view = TrainView(j["id"], j["iteration"], j["status"], j["total_steps"],
                             read_path(store, j["output_dir"]), kind=j["kind"])
            self.jobs = {j["id"]: view}  # older jobs' curves are not shown; drop them
        view.status, view.total_steps = j["status"], j["total_steps"]
        rows = store.query("SELECT * FROM train_metrics WHERE (job_id, step) > (?, ?) AND job_id >= ?"
                           " ORDER BY job_id, step", (*self.last, j["id"]))
        for r in rows:
            self.last = (r["job_id"], r["step"])
            if r["job_id"] == view.job_id:
                view.add_metric(r)
        if len(view.losses) > MAX_LOSS_POINTS:
            view.losses = view.losses[::2]
        return view


class EventTail:
    """New rows of the events table since the last read."""

    def __init__(self) -> None:
        self.last_id: int | None = None
        self.recent: deque[EventLine] = deque(maxlen=FIRST_EVENTS)

    def read(self, store: Store) -> list[EventLine]:
        if self.last_id is None:  # first read: only the tail of a long history
            rows = store.query("SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id",
                               (FIRST_EVENTS,))
        else:
            rows = store.query("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?",
                               (self.last_id, MAX_EVENTS_PER_READ))
        out = [EventLine(r["id"], r["ts"], r["level"], r["iteration"], r["stage"], r["message"]) for r in rows]
        self.last_id = out[-1].id if out else (self.last_id or 0)
        self.recent.extend(out)
        return out
