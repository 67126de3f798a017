"""The dashboard's view of a project's store, over a read-only connection.

Every SQL statement lives in the store: the totals, projection and ETA come from store/totals.py and
core/projection.py (as for `lion status`), the rest from store/dashboard.py, store/summary.py and
store/tallies.py. A refresh must stay cheap on a store with 100K answers (target ≤ 100 ms,
bench/tui_refresh.py):
- append-only tables (responses, instructions, judgements, train_metrics, events) are read
  incrementally by row id (store/tallies.py);
- per-iteration aggregates (labels, candidates) use the (iteration, …) indexes, and the numbers of
  a finished iteration are computed once and kept;
- the small tables (runs, iterations, stages, train_jobs, eval_results, api_usage) are read whole.
The dashboard never writes: the connection is opened with SQLite's `mode=ro`."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lion_cli.core.eta import run_eta
from lion_cli.core.projection import project
from lion_cli.core.run_state import RunIterations, planned_iterations
from lion_cli.core.throughput import throughputs
from lion_cli.core.totals import RunPlan, RunTotals, plan_from_settings
from lion_cli.store import dashboard as reads
from lion_cli.store import evals as stored_evals
from lion_cli.store.batch_ledger import batch_states
from lion_cli.store.db import Store, open_store
from lion_cli.store.endpoint_state import endpoint_states
from lion_cli.store.jobs import dpo_jobs_last_step
from lion_cli.store.lock import run_state
from lion_cli.store.paths import read_path
from lion_cli.store.progress import last_run_iterations
from lion_cli.store.summary import iteration_rows, label_counts, shown_stages
from lion_cli.store.tallies import EventTail, TrainTally
from lion_cli.store.totals import TotalsReader, last_minute
from lion_cli.tui import estimates
from lion_cli.tui.snapshot import (
    API_ROLE_NAMES,
    STAGE_NAMES,
    EvalRow,
    GapLine,
    GenerationCounts,
    InstructionDetail,
    InstructionLine,
    JobLine,
    JudgementView,
    LabelCounts,
    ResponseView,
    RoleUsage,
    Snapshot,
    StageView,
    TrainView,
)

DB_NAME = "lion.db"
LATEST_LINES = 30
HARDEST_LINES = 50
GAP_BIN = 0.5   # histogram bin width: scores are 1–10, averaged over two orders, so gaps fall on halves


@dataclass(frozen=True)
class _LabelView:
    key: tuple[int, int, int]   # (hard, easy, unscored): changes whenever the labels are rewritten
    counts: LabelCounts
    histogram: list[tuple[float, int]]
    latest_hard: list[InstructionLine]
    hardest: list[GapLine]


class DashboardReader:
    """Reads a project's store for the dashboard; one instance per app, used from one thread at a
    time (the lock makes a search or detail lookup wait for a refresh in progress).

    `plan` is the settings the numbers are read against, as the CLI loaded them from lion.toml (the
    same as `lion status`); without one, the latest run's recorded settings are used."""

    def __init__(self, project_dir: Path, clock: Callable[[], float] = time.time,
                 plan: RunPlan | None = None) -> None:
        self.project_dir = project_dir
        self.store = open_store(project_dir / DB_NAME, readonly=True)
        self.clock = clock
        self.plan = plan
        self.lock = threading.Lock()
        self._totals = TotalsReader()
        self._train = TrainTally()
        self._events = EventTail()
        self._run_id: int | None = None
        self._run_plan: RunPlan | None = None
        self._run_iterations: RunIterations | None = None
        self._labels: dict[int, _LabelView] = {}
        self._accepted: tuple[int, list[InstructionLine]] = (-1, [])
        self._frozen_gen: dict[int, GenerationCounts] = {}
        self._rates = estimates.StepRate()

    def close(self) -> None:
        self.store.close()

    # --- one refresh -----------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        # One read transaction: every number comes from the same moment of the store (WAL
        # snapshot), and the writer is never blocked by it.
        with self.lock, self.store.read():
            return self._refresh(self.clock())

    def _refresh(self, now: float) -> Snapshot:
        s = self.store
        snap = Snapshot(project=reads.project_name(s) or self.project_dir.name)
        self._read_run(snap, now)
        its = iteration_rows(s)
        done_its = {r["iteration"] for r in its if r["status"] == "done"}
        snap.checkpoint = next((r["student_path"] for r in reversed(its) if r["student_path"]), None)
        snap.stages = [StageView(r.iteration, r.stage.value, shown.status, r.step, r.done, r.total, shown.note,
                                 shown.brief) for r, shown in shown_stages(s, snap.run_status)]
        snap.stage = _current_stage(snap.stages)
        snap.iteration = snap.stage.iteration if snap.stage else (its[-1]["iteration"] if its else None)
        if snap.stage is not None and snap.stage.status == "running" and snap.run_status == "running":
            snap.eta_s = self._rates.eta(snap.stage, now)
        totals = self._totals.read(s)
        snap.instructions = totals.instructions
        self._read_labels(snap, [r["iteration"] for r in its], done_its)
        self._read_generation(snap, [r["iteration"] for r in its], done_its)
        train = self._train.read(s)  # copied: the tally keeps mutating its own view in this thread
        snap.train = None if train is None else replace(train, losses=list(train.losses))
        snap.preference = preference_stages(s, snap.run_status)
        snap.train_jobs = [JobLine(j["id"], j["iteration"], j["status"], j["total_steps"], j["kind"])
                           for j in reads.training_jobs(s)]
        snap.evals = self._read_evals()
        snap.new_events = self._events.read(s)
        self._read_api(snap, totals, now)
        return snap

    def _read_run(self, snap: Snapshot, now: float) -> None:
        run = reads.latest_run(self.store)
        if run is not None:
            if run["id"] != self._run_id:  # parse the settings once per run, not once per second
                self._run_id = run["id"]
                self._run_plan = plan_from_settings(_loads(run["settings_json"]))
                self._run_iterations = last_run_iterations(self.store)
            lock = reads.run_lock(self.store)
            snap.run_status = run_state(run["status"], run["pid"], run["host"],
                                        lock["heartbeat_at"] if lock else None, now)
            # A killed run's clock stops where it was last seen alive: its lock's heartbeat or its
            # last event, not now.
            heartbeat = lock["heartbeat_at"] if lock and lock["run_id"] == run["id"] else None
            until = now if snap.run_status != "stale" else (heartbeat or reads.last_event_ts(self.store))
            snap.elapsed_s = None if until is None else estimates.elapsed(run["started_at"], run["finished_at"], until)
        plan = self.plan or self._run_plan
        if plan is not None:   # the iterations as `lion status` says them (core/run_state.py)
            plan = replace(plan, iterations=planned_iterations(plan.iterations, None, self._run_iterations))
            snap.iterations_planned, snap.tau, snap.budget_usd = plan.iterations, plan.tau, plan.budget_usd
        snap.plan = plan

    def _read_labels(self, snap: Snapshot, iterations: list[int], done: set[int]) -> None:
        for it in iterations:
            cached = self._labels.get(it)
            if cached is not None and it in done:
                continue  # a finished iteration's labels never change
            counts = label_counts(self.store, it)
            key = (counts.get("hard", 0), counts.get("easy", 0), counts.get("unscored", 0))
            if cached is not None and cached.key == key:
                continue  # labels are replaced all at once: same counts, same rows
            if sum(key) == 0:
                self._labels.pop(it, None)
                continue
            self._labels[it] = self._label_view(it, key)
        snap.labels = [v.counts for _, v in sorted(self._labels.items())]
        if self._labels:
            last = max(self._labels)
            snap.histogram_iteration, snap.histogram = last, self._labels[last].histogram
            snap.latest_hard = self._labels[last].latest_hard
            snap.hardest = self._labels[last].hardest

    def _label_view(self, it: int, key: tuple[int, int, int]) -> _LabelView:
        """One pass over an iteration's labels: histogram, order flips and mean gap together."""
        hist: dict[int, int] = {}
        flips = flip_n = gap_n = 0
        gap_sum = 0.0
        # The gaps take few distinct values (averages of integer scores): grouped by the store, binned here.
        for gap, n, f, fn in reads.gap_groups(self.store, it):
            b = _bin(gap)
            hist[b] = hist.get(b, 0) + n
            gap_n, gap_sum = gap_n + n, gap_sum + gap * n
            flips, flip_n = flips + f, flip_n + fn
        read, replies = reads.referee_replies(self.store, it)
        counts = LabelCounts(it, *key, order_consistency=1.0 - flips / flip_n if flip_n else None,
                             mean_gap=gap_sum / gap_n if gap_n else None, replies_read=read, replies=replies)
        hard = [InstructionLine(iid, text, f"gap {gap:+.1f}")
                for iid, gap, text in reads.latest_hard(self.store, it, LATEST_LINES)]
        hardest = [GapLine(*row) for row in reads.hardest_by_gap(self.store, it, HARDEST_LINES)]
        return _LabelView(key, counts, [(b * GAP_BIN, n) for b, n in sorted(hist.items())], hard, hardest)

    def _read_generation(self, snap: Snapshot, iterations: list[int], done: set[int]) -> None:
        out = []
        for it in iterations:
            g = self._frozen_gen.get(it)
            if g is None:
                rows = reads.candidate_outcomes(self.store, it)
                acc = sum(n for a, _, n in rows if a)
                rej: dict[str, int] = {}
                for a, reason, n in rows:
                    if not a:
                        rej[reason or "unknown"] = rej.get(reason or "unknown", 0) + n
                g = GenerationCounts(it, acc, dict(sorted(rej.items(), key=lambda kv: (-kv[1], kv[0]))))
                if it in done:
                    self._frozen_gen[it] = g
            if g.calls:
                out.append(g)
        snap.generation = out
        newest = reads.newest_candidate_id(self.store)
        if newest != self._accepted[0]:  # re-read only when candidates were written
            self._accepted = (newest, [InstructionLine(iid, text, f"{kind} · it{it}")
                                       for iid, text, kind, it in reads.latest_accepted(self.store, LATEST_LINES)])
        snap.latest_accepted = list(self._accepted[1])

    def _read_evals(self) -> list[EvalRow]:
        """One row per (model, iteration, mode): BBH and AGIEval as the mean over the tasks run (the
        paper's unweighted average), Vicuna-80 as its 'overall' ratio (its per-category rows are
        parts of it), shown beside the generation-mode row as the paper does."""
        acc: dict[tuple[str, int | None, str], dict[str, dict[str, float]]] = {}
        for r in stored_evals.results(self.store):
            mode = r.mode
            if r.benchmark == "vicuna":
                if r.task != "overall":
                    continue
                mode = "generate"
            acc.setdefault((r.model, r.iteration, mode), {}).setdefault(r.benchmark, {})[r.task] = 100.0 * r.accuracy
        rows = [EvalRow(m, it, mode, {b: sum(t.values()) / len(t) for b, t in by.items()},
                        {b: tuple(t) for b, t in by.items()}) for (m, it, mode), by in acc.items()]
        return sorted(rows, key=lambda r: (-1 if r.iteration is None else r.iteration, r.model, r.mode != "generate"))

    def _read_api(self, snap: Snapshot, totals: RunTotals, now: float) -> None:
        """Per-role usage and the limiter's accounting, spend, projection, the API and the whole run's
        ETA: the numbers `lion status` prints."""
        plan = snap.plan
        projection = None if plan is None else project(totals, plan)
        limits = {} if plan is None else throughputs(totals, plan)
        minute = last_minute(self.store, list(API_ROLE_NAMES), now)
        for role in API_ROLE_NAMES:
            tp, m = limits.get(role), minute[role]
            snap.roles[role] = RoleUsage(
                **asdict(totals.role(role)), role=role, rpm_now=m.requests, tpm_now=m.tokens_used,
                reserved_now=m.tokens_reserved, rpm_limit=tp.rpm if tp else None, tpm_limit=tp.tpm if tp else None,
                remaining_calls=projection.remaining_calls.get(role) if projection else None,
                reserved_per_request=tp.reserved_per_request if tp else None,
                max_per_minute=tp.max_per_minute if tp else None, advice=tp.advice() if tp else None)
        snap.spent_usd = totals.spent_usd
        snap.endpoints = endpoint_states(self.store)
        snap.batches = batch_states(self.store)
        if plan is not None and projection is not None:
            snap.projected_total_usd, snap.api_eta_s = projection.total_usd, projection.eta_s
            snap.run_eta = run_eta(totals, plan, projection)

    # --- on demand: search, one instruction, one training job's curve ------------------------------

    def training_job(self, job_id: int) -> TrainView | None:
        """A training job with its whole loss curve, read once (the training panel's job list)."""
        with self.lock, self.store.read():
            job = next((j for j in reads.training_jobs(self.store) if j["id"] == job_id), None)
            rows = [] if job is None else reads.loss_curve(self.store, job_id)
            output_dir = "" if job is None else read_path(self.store, job["output_dir"])
        if job is None:
            return None
        view = TrainView(job["id"], job["iteration"], job["status"], job["total_steps"], output_dir, kind=job["kind"])
        for r in rows:
            view.add_metric(r)
        return view

    def search(self, text: str, limit: int = 50) -> list[InstructionLine]:
        with self.lock:
            rows = reads.search_instructions(self.store, text, limit)
        return [InstructionLine(r["id"], r["text"], f"{r['origin']} · it{r['iteration']}") for r in rows]

    def instruction(self, instruction_id: int) -> InstructionDetail | None:
        with self.lock:
            i = reads.instruction_detail(self.store, instruction_id)
        if i is None:
            return None
        responses = [ResponseView(r["role"], r["model"], r["iteration"], r["text"], r["finish_reason"])
                     for r in i["responses"]]
        judgements = [JudgementView(r["iteration"], r["order_name"], r["attempt"], r["referee_model"],
                                    r["raw_text"], r["teacher_score"], r["student_score"], r["parse_error"])
                      for r in i["judgements"]]
        return InstructionDetail(i["id"], i["text"], i["input"], i["origin"], i["iteration"], i["parent_id"],
                                 responses, judgements, i["labels"])


def preference_stages(store: Store, run_status: str) -> list[StageView]:
    """The preference stage of each iteration that has one, for the stage strip: its latest DPO job's state
    and steps (a job left running by a run that is gone shows as interrupted, as stages do)."""
    latest = {r["iteration"]: r for r in dpo_jobs_last_step(store)}
    views = []
    for it, r in sorted(latest.items()):
        status = "interrupted" if r["status"] == "running" and run_status != "running" else r["status"]
        views.append(StageView(it, "preference", status, "dpo", int(r["step"] or 0), int(r["total_steps"] or 0)))
    return views


def _current_stage(stages: list[StageView]) -> StageView | None:
    """The stage running now; else the first not finished (where a resume starts); else the last."""
    for pick in (lambda v: v.status == "running", lambda v: not v.finished):
        found = next((v for v in stages if pick(v)), None)
        if found is not None:
            return found
    return stages[-1] if stages else None


def _bin(gap: float) -> int:
    """The histogram bin of a gap: gap / GAP_BIN rounded half away from zero."""
    x = abs(gap) / GAP_BIN
    return int(math.copysign(math.floor(x + 0.5), gap))


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["STAGE_NAMES", "DashboardReader"]
