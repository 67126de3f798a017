"""What the run's state is, as `lion status` and the dashboard show it: each stage's state and the
number of iterations the run plans.

A stage row says 'running' from the moment its stage starts until the stage finishes; when the run's
process dies (killed, crashed, the machine rebooted) the row goes on saying so. So the shown state
reads the row together with the run's own state: a running row of a run that is no longer alive is
interrupted (or failed, or paused, as the run ended). A generation stage that reached its attempt
limit (loop.max_attempts_factor) is finished without its quota: it is shown as given up, with its
counts, not as done.

The iterations a run plans: `--iterations N` when given; else what the last run planned, as long as
lion.toml's loop.iterations is still the one that run saw (an edit since is the newer wish)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lion_cli.core.types import Stage

# After the last generation stage, one more imitation on everything (the paper's 70K: seeds plus every
# iteration's new instructions): iteration `iterations` of the loop, which has this stage only.
FINAL_STAGES: tuple[Stage, ...] = (Stage.IMITATION,)

RUN_ALIVE = "running"
FINISHED = ("done", "gave up")     # shown states after which the loop goes on to the next stage
# What a stage left running shows, by how its run ended (any other end: interrupted).
_LEFT_RUNNING = {"failed": "failed", "paused": "paused"}


@dataclass(frozen=True)
class ShownStage:
    status: str    # pending | running | done | gave up | interrupted | failed | paused
    note: str = ""  # the counts of a stage that gave up, the error of a failed one
    brief: str = ""  # the same, short enough for the dashboard's stage strip (a failed one's error: "")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def gave_up(detail: Mapping[str, Any]) -> ShownStage:
    """'gave up: 412 of 600 accepted after 1,800 attempts' from a generation stage's detail."""
    quota = detail.get("quota") or {}
    wanted = sum(v for v in quota.values() if isinstance(v, int)) if isinstance(quota, Mapping) else 0
    accepted = int(detail.get("accepted_hard") or 0) + int(detail.get("accepted_easy") or 0)
    attempts = int(detail.get("attempts") or 0)
    return ShownStage("gave up", f"gave up: {accepted:,} of {wanted:,} accepted after {attempts:,} attempts",
                      f"gave up: {accepted:,}/{wanted:,} after {attempts:,} attempts")


def shown_stage(stage: str, status: str, detail: Mapping[str, Any], run_status: str,
                error: str | None = None) -> ShownStage:
    """The state to show for a stage row (`status`, `detail`) while the project's latest run is in
    `run_status` (its recorded status, or 'stale' when it says running but its process is gone).
    `error`: the message the stage stopped with, if the store has one."""
    if status == "running" and run_status != RUN_ALIVE:
        status = _LEFT_RUNNING.get(run_status, "interrupted")
    if status == "failed":
        return ShownStage("failed", str(detail.get("error") or error or "no error recorded"))
    if status == "done" and stage == "generation" and detail.get("quota_met") is False:
        return gave_up(detail)
    return ShownStage(status)


@dataclass(frozen=True)
class RunIterations:
    """What the latest run recorded: the iterations it planned, and lion.toml's loop.iterations then."""

    planned: int | None
    in_lion_toml: int | None


def planned_iterations(in_lion_toml: int, requested: int | None, last_run: RunIterations | None) -> int:
    """The iterations a run goes to: `requested` (--iterations), else the last run's plan while
    lion.toml still says what it said then, else lion.toml's."""
    if requested:
        return requested
    if last_run is None or not last_run.planned or last_run.in_lion_toml != in_lion_toml:
        return in_lion_toml
    return last_run.planned
