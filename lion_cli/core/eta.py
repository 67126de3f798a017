"""The whole run's ETA: the API work left, the student's training and its answers, timed at the rates
measured so far (pure arithmetic over RunTotals and RunPlan; `lion status` and the dashboard both
show this one).

- API: core/projection.py's remaining requests per role at the measured request rate, or at the most
  the limits let through where nothing is measured yet ("assumed").
- Training: the optimizer steps left (the running job's, then one job per iteration still to train:
  examples × epochs ÷ global batch, the Train Pools of loop.train_from) at the measured seconds per
  step of the loop's training metrics.
- Student answers: every remaining iteration's student answers its whole Cache Pool (the one now,
  then one new_per_iteration larger each iteration), at the rows per second its finished generation
  jobs ran.
Training and sampling have no limit to assume a speed from: until a job has measured one, that part
is "not measured yet" and the total is a lower bound. The stages run one after another, so the
parts add up."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lion_cli.core.projection import Projection
from lion_cli.core.totals import RunPlan, RunTotals, TrainingPlan
from lion_cli.core.training_set import trained_iterations

MEASURED, ASSUMED, UNMEASURED = "measured", "assumed", "not measured yet"


@dataclass(frozen=True)
class EtaPart:
    name: str               # API | training | student answers
    work: int               # requests / optimizer steps / rows left
    unit: str
    seconds: float | None   # None: work left and nothing to time it with
    basis: str              # measured | assumed | not measured yet

    def describe(self) -> str:
        if self.work <= 0:
            return f"{self.name}: nothing left"
        when = "?" if self.seconds is None else clock(self.seconds)
        return f"{self.name} {when} ({self.work:,} {self.unit}, {self.basis})"


@dataclass(frozen=True)
class RunEta:
    parts: tuple[EtaPart, ...]

    @property
    def seconds(self) -> float:
        """The parts that can be timed, added up (see `complete`)."""
        return sum(p.seconds or 0.0 for p in self.parts if p.work > 0)

    @property
    def complete(self) -> bool:
        """Every part with work left has a time: `seconds` is the ETA, not only a lower bound."""
        return all(p.seconds is not None for p in self.parts if p.work > 0)

    @property
    def basis(self) -> str:
        """measured | assumed (a rate limit stands in somewhere) | not measured yet (a part untimed)."""
        bases = {p.basis for p in self.parts if p.work > 0}
        return UNMEASURED if UNMEASURED in bases else ASSUMED if ASSUMED in bases else MEASURED

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.parts)


def clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"


def job_steps(examples: int, training: TrainingPlan) -> int:
    """Optimizer steps of one training job (the trainer's count: whole batches per epoch, at least one)."""
    if examples <= 0:
        return 0
    return math.ceil(training.epochs * max(examples // training.global_batch_size, 1))


def training_steps_left(t: RunTotals, plan: RunPlan) -> int:
    work = t.student
    sizes = dict(work.train_pool_sizes)
    steps = 0
    for it in range(t.iteration, plan.iterations + 1):   # the last one: the final imitation's training
        if it == t.iteration and work.trained:
            continue
        if it == t.iteration and work.train_job is not None and work.train_job[1] > 0:
            steps += max(work.train_job[1] - work.train_job[0], 0)
            continue
        # A Train Pool not made yet will hold what the generator delivers: new_per_iteration.
        examples = sum(sizes.get(k, plan.new_per_iteration) for k in trained_iterations(plan.training.train_from, it))
        steps += job_steps(examples, plan.training)
    return steps


def student_rows_left(t: RunTotals, plan: RunPlan) -> int:
    rows = 0
    for k, _ in enumerate(range(t.iteration, plan.iterations)):
        rows += t.cache_size + k * plan.new_per_iteration - (t.student.answered if k == 0 else 0)
    return max(rows, 0)


def _timed(name: str, work: int, unit: str, seconds_each: float | None) -> EtaPart:
    if work <= 0:
        return EtaPart(name, 0, unit, 0.0, MEASURED)
    if seconds_each is None:
        return EtaPart(name, work, unit, None, UNMEASURED)
    return EtaPart(name, work, unit, work * seconds_each, MEASURED)


def run_eta(t: RunTotals, plan: RunPlan, projection: Projection) -> RunEta:
    calls = sum(n for n in projection.remaining_calls.values() if n > 0)
    api = EtaPart("API", calls, "requests", projection.eta_s if calls else 0.0,
                  MEASURED if projection.eta_measured or not calls else ASSUMED if projection.eta_s is not None
                  else UNMEASURED)
    rows_s = t.student.rows_per_s
    return RunEta((
        api,
        _timed("training", training_steps_left(t, plan), "steps", t.student.seconds_per_step),
        _timed("student answers", student_rows_left(t, plan), "rows", 1.0 / rows_s if rows_s else None),
    ))
