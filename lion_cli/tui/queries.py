"""Every SQL statement the dashboard runs, over a read-only connection.

A refresh must stay cheap on a store with 100K answers (target ≤ 100 ms, bench/tui_refresh.py):
- append-only tables (api_calls, responses, instructions, judgements, train_metrics, events) are
  read incrementally by row id (tallies.py);
- per-iteration aggregates (labels, candidates) use the (iteration, …) indexes, and the numbers of
  a finished iteration are computed once and kept;
- the small tables (runs, iterations, stages, train_jobs, eval_results) are read whole.
The dashboard never writes: the connection is opened with SQLite's `mode=ro`."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lion_cli.store.db import open_store
from lion_cli.tui import estimates
from lion_cli.tui.snapshot import (
    API_ROLE_NAMES,
    STAGE_NAMES,
    EvalRow,
    GenerationCounts,
    InstructionDetail,
    InstructionLine,
    JudgementView,
    LabelCounts,
    ResponseView,
    RoleUsage,
    Snapshot,
    StageView,
)
from lion_cli.tui.tallies import ApiTally, EventTail, RowCounter, TrainTally

DB_NAME = "lion.db"
LATEST_LINES = 30
GAP_BIN = 0.5   # histogram bin width: scores are 1–10, averaged over two orders, so gaps fall on halves


@dataclass(frozen=True)
class _LabelView:
    key: tuple[int, int, int]   # (hard, easy, unscored): changes whenever the labels are rewritten
    counts: LabelCounts
    histogram: list[tuple[float, int]]
    latest_hard: list[InstructionLine]


class DashboardReader:
    """Reads a project's store for the dashboard; one instance per app, used from one thread at a
    time (the lock makes a search or detail lookup wait for a refresh in progress)."""

    def __init__(self, project_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.project_dir = project_dir
        self.store = open_store(project_dir / DB_NAME, readonly=True)
        self.clock = clock
        self.lock = threading.Lock()
        self._api = ApiTally()
        self._responses = RowCounter("responses", "role")
        self._instructions = RowCounter("instructions")
        self._judgements = RowCounter("judgements", "iteration")
        self._retries = RowCounter("judgements", "iteration", where="attempt > 0")
        self._train = TrainTally()
        self._events = EventTail()
        self._run_id: int | None = None
        self._settings: dict[str, Any] = {}
        self._labels: dict[int, _LabelView] = {}
        self._cache_sizes: dict[int, int] = {}
        self._accepted: tuple[int, list[InstructionLine]] = (-1, [])
        self._frozen_gen: dict[int, GenerationCounts] = {}
        self._rates = estimates.StepRate()

    def close(self) -> None:
        self.store.close()

    # --- one refresh -----------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        with self.lock:
            # One read transaction: every number comes from the same moment of the store (WAL
            # snapshot), and the writer is never blocked by it.
            self.store.conn.execute("BEGIN")
            try:
                return self._refresh(self.clock())
            finally:
                self.store.conn.execute("COMMIT")

    def _refresh(self, now: float) -> Snapshot:
        s = self.store
        snap = Snapshot(project=str(s.scalar("SELECT name FROM project WHERE id=1") or self.project_dir.name))
        self._read_run(snap, now)
        its = s.query("SELECT iteration, status, student_path FROM iterations ORDER BY iteration")
        done_its = {r["iteration"] for r in its if r["status"] == "done"}
        snap.checkpoint = next((r["student_path"] for r in reversed(its) if r["student_path"]), None)
        snap.stages = [StageView(r["iteration"], r["stage"], r["status"], r["step"], r["done"], r["total"])
                       for r in s.query("SELECT * FROM stages ORDER BY iteration, CASE stage WHEN 'imitation'"
                                        " THEN 0 WHEN 'discrimination' THEN 1 ELSE 2 END")]
        snap.stage = _current_stage(snap.stages)
        snap.iteration = snap.stage.iteration if snap.stage else (its[-1]["iteration"] if its else None)
        if snap.stage is not None and snap.stage.status == "running" and snap.run_status == "running":
            snap.eta_s = self._rates.eta(snap.stage, now)
        for counter in (self._responses, self._instructions, self._judgements, self._retries):
            counter.read(s)
        snap.instructions = self._instructions.total()
        self._api.read(s)
        self._read_labels(snap, [r["iteration"] for r in its], done_its)
        self._read_generation(snap, [r["iteration"] for r in its], done_its)
        train = self._train.read(s)  # copied: the tally keeps mutating its own view in this thread
        snap.train = None if train is None else replace(train, losses=list(train.losses))
        snap.evals = self._read_evals()
        snap.new_events = self._events.read(s)
        self._read_api(snap, now, len(done_its))
        return snap

    def _read_run(self, snap: Snapshot, now: float) -> None:
        rows = self.store.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        if rows:
            run = rows[0]
            if run["id"] != self._run_id:  # parse the settings once per run, not once per second
                self._run_id = run["id"]
                self._settings = _loads(run["settings_json"])
            lock = self.store.query("SELECT * FROM run_lock WHERE id=1")
            snap.run_status = estimates.run_state(run["status"], run["pid"], run["host"],
                                                  lock[0]["heartbeat_at"] if lock else None, now)
            # A killed run's clock stops where it was last seen alive: its lock's heartbeat or its
            # last event, not now.
            heartbeat = lock[0]["heartbeat_at"] if lock and lock[0]["run_id"] == run["id"] else None
            until = now if snap.run_status != "stale" else (
                heartbeat or self.store.scalar("SELECT ts FROM events ORDER BY id DESC LIMIT 1"))
            snap.elapsed_s = None if until is None else estimates.elapsed(run["started_at"], run["finished_at"], until)
        elif not self._settings:
            self._settings = estimates.settings_from_toml(self.project_dir)
        cfg = self._settings
        snap.settings = cfg
        snap.iterations_planned = _get(cfg, "loop", "iterations")
        snap.tau = _get(cfg, "loop", "tau")
        snap.budget_usd = _get(cfg, "budget", "max_usd")

    def _read_labels(self, snap: Snapshot, iterations: list[int], done: set[int]) -> None:
        for it in iterations:
            cached = self._labels.get(it)
            if cached is not None and it in done:
                continue  # a finished iteration's labels never change
            counts = {r[0]: r[1] for r in self.store.query(
                "SELECT label, COUNT(*) FROM labels WHERE iteration=? GROUP BY label", (it,))}
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

    def _label_view(self, it: int, key: tuple[int, int, int]) -> _LabelView:
        """One pass over an iteration's labels: histogram, order flips and mean gap together."""
        hist: dict[int, int] = {}
        flips = flip_n = gap_n = 0
        gap_sum = 0.0
        # Grouped by the gap itself: the labels_gap index hands the rows over already in gap order
        # (no sort), and the gaps take few distinct values (averages of integer scores), binned here.
        for gap, n, f, fn in self.store.query(
                "SELECT gap, COUNT(*), SUM(order_flip), COUNT(order_flip) FROM labels"
                " WHERE iteration=? AND gap IS NOT NULL AND label != 'unscored' GROUP BY gap", (it,)):
            b = _bin(gap)
            hist[b] = hist.get(b, 0) + n
            gap_n, gap_sum = gap_n + n, gap_sum + gap * n
            flips, flip_n = flips + (f or 0), flip_n + fn
        counts = LabelCounts(it, *key, order_consistency=1.0 - flips / flip_n if flip_n else None,
                             mean_gap=gap_sum / gap_n if gap_n else None)
        hard = [InstructionLine(r[0], r[2], f"gap {r[1]:+.1f}") for r in self.store.query(
            "SELECT l.instruction_id, l.gap, i.text FROM labels l JOIN instructions i ON i.id = l.instruction_id"
            " WHERE l.iteration=? AND l.label='hard' ORDER BY l.instruction_id DESC LIMIT ?", (it, LATEST_LINES))]
        return _LabelView(key, counts, [(b * GAP_BIN, n) for b, n in sorted(hist.items())], hard)

    def _read_generation(self, snap: Snapshot, iterations: list[int], done: set[int]) -> None:
        out = []
        for it in iterations:
            g = self._frozen_gen.get(it)
            if g is None:
                rows = self.store.query("SELECT accepted, reject_reason, COUNT(*) FROM candidates WHERE iteration=?"
                                        " GROUP BY accepted, reject_reason", (it,))
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
        newest = int(self.store.scalar("SELECT MAX(id) FROM candidates") or 0)
        if newest != self._accepted[0]:  # re-read only when candidates were written
            self._accepted = (newest, [InstructionLine(r[0], r[1], f"{r[2]} · it{r[3]}") for r in self.store.query(
                "SELECT instruction_id, text, kind, iteration FROM candidates WHERE accepted=1 AND instruction_id"
                " IS NOT NULL ORDER BY id DESC LIMIT ?", (LATEST_LINES,))])
        snap.latest_accepted = list(self._accepted[1])

    def _read_evals(self) -> list[EvalRow]:
        """One row per (model, iteration, mode): BBH and AGIEval as the mean over the tasks run (the
        paper's unweighted average), Vicuna-80 as its 'overall' ratio (its per-category rows are
        parts of it), shown beside the generation-mode row as the paper does."""
        acc: dict[tuple[str, int | None, str], dict[str, dict[str, float]]] = {}
        for model, it, bench, task, mode, accuracy in self.store.query(
                "SELECT model, iteration, benchmark, task, mode, accuracy FROM eval_results"
                " ORDER BY COALESCE(iteration, -1), model, benchmark, task"):
            if bench == "vicuna":
                if task != "overall":
                    continue
                mode = "generate"
            acc.setdefault((model, it, mode), {}).setdefault(bench, {})[task] = 100.0 * accuracy
        rows = [EvalRow(m, it, mode, {b: sum(t.values()) / len(t) for b, t in by.items()},
                        {b: tuple(t) for b, t in by.items()}) for (m, it, mode), by in acc.items()]
        return sorted(rows, key=lambda r: (-1 if r.iteration is None else r.iteration, r.model, r.mode != "generate"))

    def _read_api(self, snap: Snapshot, now: float, iterations_done: int) -> None:
        cfg = snap.settings
        for role in API_ROLE_NAMES:
            u = self._api.roles.get(role)
            if u is None:
                u = self._api.roles[role] = RoleUsage(role)
            u.rpm_now, u.tpm_now = self._api.last_minute(self.store, role, now)
            u.rpm_limit, u.tpm_limit = _get(cfg, role, "rpm"), _get(cfg, role, "tpm")
        snap.roles = {r: replace(self._api.roles[r]) for r in API_ROLE_NAMES}
        snap.spent_usd = sum(u.cost_usd for u in self._api.roles.values())
        cur = snap.iteration if snap.iteration is not None else 0
        cache = self._cache_size(cur, started=any(v.iteration == cur and v.status != "pending" for v in snap.stages))
        gen = next((g for g in snap.generation if g.iteration == cur), None)
        # After the last planned iteration, its new instructions are never sent to the teacher.
        finished = snap.iterations_planned is not None and iterations_done >= int(snap.iterations_planned)
        projection = estimates.projected_cost(
            cfg, snap.roles, iterations_done=iterations_done, cache_size=cache,
            teacher_missing=0 if finished else max(snap.instructions - self._responses.counts.get("teacher", 0), 0),
            referee_done=self._judgements.counts.get(cur, 0),
            referee_retries=self._retries.total(), referee_pairs=self._judgements.total() - self._retries.total(),
            generator_done=gen.calls if gen else 0,
            accepted=sum(g.accepted for g in snap.generation), generated=sum(g.calls for g in snap.generation))
        if projection is not None:
            snap.projected_total_usd = projection.total_usd
            for role, n in projection.remaining_calls.items():
                if role in snap.roles:
                    snap.roles[role].remaining_calls = n

    def _cache_size(self, iteration: int, started: bool) -> int:
        """An iteration's Cache Pool is fixed before its first stage starts: count it once then."""
        if iteration in self._cache_sizes:
            return self._cache_sizes[iteration]
        n = int(self.store.scalar("SELECT COUNT(*) FROM pool_members WHERE iteration=? AND pool='cache'",
                                  (iteration,)) or 0)
        if started:
            self._cache_sizes[iteration] = n
        return n

    # --- on demand: search and one instruction ----------------------------------------------------

    def search(self, text: str, limit: int = 50) -> list[InstructionLine]:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.lock:
            rows = self.store.query("SELECT id, text, origin, iteration FROM instructions WHERE text LIKE ?"
                                    " ESCAPE '\\' ORDER BY id DESC LIMIT ?", (pattern, limit))
        return [InstructionLine(r["id"], r["text"], f"{r['origin']} · it{r['iteration']}") for r in rows]

    def instruction(self, instruction_id: int) -> InstructionDetail | None:
        with self.lock:
            s = self.store
            rows = s.query("SELECT * FROM instructions WHERE id=?", (instruction_id,))
            if not rows:
                return None
            i = rows[0]
            responses = [ResponseView(r["role"], r["model"], r["iteration"], r["text"], r["finish_reason"])
                         for r in s.query("SELECT * FROM responses WHERE instruction_id=? ORDER BY"
                                          " CASE role WHEN 'teacher' THEN 0 ELSE 1 END, iteration, id",
                                          (instruction_id,))]
            judgements = [JudgementView(r["iteration"], r["order_name"], r["attempt"], r["referee_model"],
                                        r["raw_text"], r["teacher_score"], r["student_score"], r["parse_error"])
                          for r in s.query("SELECT * FROM judgements WHERE instruction_id=? ORDER BY iteration,"
                                           " CASE order_name WHEN 'teacher_first' THEN 0 ELSE 1 END, attempt",
                                           (instruction_id,))]
            labels = [dict(r) for r in s.query("SELECT * FROM labels WHERE instruction_id=? ORDER BY iteration",
                                               (instruction_id,))]
        return InstructionDetail(i["id"], i["text"], i["input"], i["origin"], i["iteration"], i["parent_id"],
                                 responses, judgements, labels)


def _current_stage(stages: list[StageView]) -> StageView | None:
    """The stage running now; else the first not done (where a resume starts); else the last."""
    for pick in (lambda v: v.status == "running", lambda v: v.status != "done"):
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


def _get(cfg: dict[str, Any], section: str, key: str) -> Any:
    part = cfg.get(section)
    return part.get(key) if isinstance(part, dict) else None


__all__ = ["STAGE_NAMES", "DashboardReader"]
