"""The adversarial loop: imitation → discrimination → generation, per iteration, then a final imitation
on everything (iteration `iterations`), from wherever the store says the project stands. Every stage
does only what is missing, so resuming is just running."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lion_cli.core.redact import redact_and_cut
from lion_cli.core.run_state import FINAL_STAGES
from lion_cli.core.types import API_ROLES, STAGES, Pool, Stage, StageStatus
from lion_cli.llm.errors import BudgetExceeded
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.discrimination import run_discrimination
from lion_cli.pipeline.generation import run_generation
from lion_cli.pipeline.imitation import run_imitation
from lion_cli.pipeline.job_thread import stopped_by
from lion_cli.pipeline.preference import with_preference
from lion_cli.pipeline.progress import log
from lion_cli.store.pools import pool_size
from lion_cli.store.progress import (
    ensure_iteration,
    finish_stage,
    next_position,
    stage_row,
    start_stage,
    stop_stage,
)

StageFn = Callable[[LoopContext, int], Awaitable[dict[str, Any]]]
STAGE_FNS: dict[Stage, StageFn] = {
    Stage.IMITATION: run_imitation,
    Stage.DISCRIMINATION: run_discrimination,
    Stage.GENERATION: run_generation,
}


@dataclass
class LoopOutcome:
    finished: bool
    completed: list[tuple[int, Stage]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)


def describe_position(ctx: LoopContext, iterations: int) -> str:
    """What `lion resume` is about to do, in words."""
    pos = next_position(ctx.store, iterations)
    if pos is None:
        return f"all {iterations} iterations are done"
    it, stage = pos
    where = f"the final {stage.value} (iteration {it})" if it == iterations else f"iteration {it}, stage {stage.value}"
    row = stage_row(ctx.store, it, stage)
    if row is None or row.status is StageStatus.PENDING:
        return f"starting {where}"
    part = f" ({row.step} {row.done}/{row.total} done)" if row.step else ""
    return f"resuming {where}{part}"


def stage_error(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """What a failed stage stopped with, in one line (a student job: how it ended and its log's first
    error, launcher.JobFailed.cause), without any secret (core/redact.py) and at most 2000 characters."""
    cause = getattr(exc, "cause", None)
    return redact_and_cut(cause if isinstance(cause, str) else f"{type(exc).__name__}: {exc}", secrets, 2000)


def api_keys(ctx: LoopContext) -> tuple[str, ...]:
    """The endpoints' keys, to be kept out of what the store records about a failure."""
    names = {ctx.settings.endpoint(r).api_key_env for r in API_ROLES} - {""}
    return tuple(k for k in (os.environ.get(n, "") for n in sorted(names)) if k)


def record_stop(ctx: LoopContext, iteration: int, stage: Stage, exc: BaseException) -> None:
    """The stage row of a stage that ended without finishing: interrupted by a signal, or failed with
    its error. A budget pause leaves it running (the run's own status says paused)."""
    if stopped_by(exc):
        stop_stage(ctx.store, iteration, stage, StageStatus.INTERRUPTED)
        message, level = "interrupted", "warning"
    else:
        error = stage_error(exc, api_keys(ctx))
        message, level = f"stopped: {error}", "error"
        if not isinstance(exc, BudgetExceeded):
            stop_stage(ctx.store, iteration, stage, StageStatus.FAILED, error)
    ctx.store.event(f"iteration {iteration}: {stage.value} {message}"[:500], level=level,
                    iteration=iteration, stage=stage.value)


async def run_loop(ctx: LoopContext, iterations: int, until: Stage | None = None) -> LoopOutcome:
    outcome = LoopOutcome(finished=False)
    while (pos := next_position(ctx.store, iterations)) is not None:
        it, stage = pos
        ensure_iteration(ctx.store, it, FINAL_STAGES if it == iterations else STAGES)
        # The final imitation trains on every pool so far: the last generation's may be empty.
        if stage is Stage.IMITATION and it < iterations and pool_size(ctx.store, it, Pool.TRAIN) == 0:
            raise RuntimeError(f"iteration {it} has an empty Train Pool (the previous generation stage "
                               "accepted nothing)")
        start_stage(ctx.store, it, stage)
        ctx.store.event(f"iteration {it}: {stage.value} started", iteration=it, stage=stage.value)
        try:
            detail = await STAGE_FNS[stage](ctx, it)
            if stage is Stage.IMITATION:  # DPO of the new student, when [preference] asks for it here
                detail = await with_preference(ctx, it, iterations, detail)
        except BaseException as exc:
            record_stop(ctx, it, stage, exc)
            raise
        finish_stage(ctx.store, it, stage, detail)
        ctx.store.event(f"iteration {it}: {stage.value} done", iteration=it, stage=stage.value)
        log(f"it{it} {stage.value} done")
        outcome.completed.append((it, stage))
        outcome.details[f"{it}:{stage.value}"] = detail
        if until is not None and stage is until:
            return outcome
    outcome.finished = True
    return outcome
