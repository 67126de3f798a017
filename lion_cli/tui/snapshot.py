"""What one dashboard refresh read from the store: plain data, no I/O, no widgets.

The reader (queries.py) builds a `Snapshot` in a worker thread; the app hands it to the widgets on
the UI thread. Keeping it plain data makes each panel testable from a known store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lion_cli.core.aimd import EndpointState
from lion_cli.core.batches import BatchState
from lion_cli.core.eta import RunEta
from lion_cli.core.run_state import FINISHED
from lion_cli.core.totals import API_ROLE_NAMES as API_ROLE_NAMES
from lion_cli.core.totals import RoleTotals, RunPlan
from lion_cli.store.tallies import EventLine as EventLine  # the store's rows, shown as they are
from lion_cli.store.tallies import TrainView as TrainView

STAGE_NAMES: tuple[str, ...] = ("imitation", "discrimination", "generation")


@dataclass(frozen=True)
class StageView:
    iteration: int
    stage: str
    status: str          # as shown (core/run_state.py): pending|running|done|gave up|interrupted|failed|paused
    step: str
    done: int
    total: int
    note: str = ""       # a stage that gave up: its counts; a failed one: its error
    brief: str = ""      # a stage that gave up: its counts, shorter

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float:
        if self.finished:
            return 1.0
        return min(self.done / self.total, 1.0) if self.total > 0 else 0.0


@dataclass(frozen=True)
class RoleUsage(RoleTotals):
    """One API role's totals (core/totals.py), its last minute, its limits as the limiter counts them
    (core/throughput.py) and what the projection says is left."""

    role: str = ""
    rpm_now: int = 0
    tpm_now: int = 0                     # tokens used in the last minute
    reserved_now: int = 0                # tokens the limiter reserved in the last minute
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    remaining_calls: int | None = None   # projected; None when it cannot be estimated yet
    reserved_per_request: float | None = None
    max_per_minute: float | None = None  # the most requests a minute the limits let through
    advice: str | None = None            # when TPM, not rpm, sets the pace: why, and the fix

    @property
    def total_calls(self) -> int | None:
        return None if self.remaining_calls is None else self.calls + self.remaining_calls


@dataclass(frozen=True)
class LabelCounts:
    """Discrimination outcome of one iteration (labels table)."""

    iteration: int
    hard: int
    easy: int
    unscored: int
    order_consistency: float | None   # 1 − mean(order_flip) over scored items
    mean_gap: float | None
    replies_read: int = 0             # referee replies the parser could read, every attempt counted
    replies: int = 0                  # all referee replies of the iteration

    @property
    def hard_rate(self) -> float | None:
        scored = self.hard + self.easy
        return self.hard / scored if scored else None

    @property
    def parse_rate(self) -> float | None:
        return self.replies_read / self.replies if self.replies else None


@dataclass(frozen=True)
class GenerationCounts:
    iteration: int
    accepted: int
    rejected: dict[str, int]   # reject_reason → count

    @property
    def calls(self) -> int:
        return self.accepted + sum(self.rejected.values())


@dataclass(frozen=True)
class InstructionLine:
    id: int
    text: str
    note: str = ""   # e.g. "gap 3.5" or "hard · it1"


@dataclass(frozen=True)
class GapLine:
    """One scored instruction of the discrimination panel's hardest list."""

    id: int
    gap: float
    teacher_score: float | None
    student_score: float | None
    text: str


@dataclass(frozen=True)
class JobLine:
    """One training job of the training panel's job list."""

    job_id: int
    iteration: int | None
    status: str
    total_steps: int | None
    kind: str = "train"   # train | dpo


@dataclass(frozen=True)
class EvalRow:
    """Per-benchmark averages (percent) of one evaluated model in one answer mode."""

    model: str
    iteration: int | None
    mode: str                          # generate (the paper's protocol) | loglik
    scores: dict[str, float]           # benchmark → mean accuracy over its tasks, in % (vicuna: vs reference)
    tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)   # benchmark → the tasks averaged


@dataclass
class Snapshot:
    project: str = ""
    run_status: str = "never run"     # the latest runs row's status, or 'stale' when its process is gone
    iterations_planned: int | None = None
    iteration: int | None = None      # the iteration in progress (or the last one)
    stage: StageView | None = None    # the stage in progress (or the last one touched)
    elapsed_s: float | None = None
    eta_s: float | None = None        # of the current step, from its observed rate
    api_eta_s: float | None = None    # of the run's remaining API work (core/projection.py)
    run_eta: RunEta | None = None     # of the whole run: API, training, student answers (core/eta.py)
    stages: list[StageView] = field(default_factory=list)
    roles: dict[str, RoleUsage] = field(default_factory=dict)
    endpoints: list[EndpointState] = field(default_factory=list)   # what the engine last reported doing
    batches: list[BatchState] = field(default_factory=list)        # provider batches, newest first
    spent_usd: float = 0.0
    projected_total_usd: float | None = None
    budget_usd: float | None = None
    tau: float | None = None
    labels: list[LabelCounts] = field(default_factory=list)
    histogram_iteration: int | None = None
    histogram: list[tuple[float, int]] = field(default_factory=list)   # (gap bin centre, count)
    generation: list[GenerationCounts] = field(default_factory=list)
    latest_hard: list[InstructionLine] = field(default_factory=list)
    hardest: list[GapLine] = field(default_factory=list)   # the histogram's iteration, largest gap first
    latest_accepted: list[InstructionLine] = field(default_factory=list)
    train: TrainView | None = None    # the latest training job, read incrementally
    preference: list[StageView] = field(default_factory=list)  # each iteration's DPO job, as a stage of the strip
    train_jobs: list[JobLine] = field(default_factory=list)   # every training job, newest first
    checkpoint: str | None = None     # the student in use: the latest iterations.student_path
    evals: list[EvalRow] = field(default_factory=list)
    new_events: list[EventLine] = field(default_factory=list)
    instructions: int = 0
    plan: RunPlan | None = None       # the settings the numbers are read against

    @property
    def budget_left_usd(self) -> float | None:
        return None if not self.budget_usd else self.budget_usd - self.spent_usd


@dataclass(frozen=True)
class ResponseView:
    role: str
    model: str
    iteration: int
    text: str
    finish_reason: str


@dataclass(frozen=True)
class JudgementView:
    iteration: int
    order: str
    attempt: int
    referee_model: str
    raw_text: str
    teacher_score: float | None
    student_score: float | None
    parse_error: str | None


@dataclass(frozen=True)
class InstructionDetail:
    id: int
    text: str
    input: str
    origin: str
    iteration: int
    parent_id: int | None
    responses: list[ResponseView]
    judgements: list[JudgementView]
    labels: list[dict[str, Any]]
