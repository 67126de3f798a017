"""Estimates the dashboard shows: run state, elapsed time, the current step's ETA, projected cost.

Pure functions of what queries.py read (plus a process-liveness probe and a lion.toml read for a
project that has never run)."""

from __future__ import annotations

import os
import socket
import tomllib
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

from lion_cli.core.projection import Projection, ProjectionInput, project
from lion_cli.tui.snapshot import RoleUsage, StageView

STALE_HEARTBEAT_S = 120.0
RATE_WINDOW_S = 120.0
# Before a role's first paid call its cost per request is unknown; guess it from the endpoint's
# prices with this many prompt tokens and half of max_tokens as the completion.
GUESS_PROMPT_TOKENS = 200


def run_state(status: str, pid: int | None, host: str | None, heartbeat_at: float | None, now: float) -> str:
    """The latest run's status; 'stale' when it says running but its process is gone (killed
    with -9, machine rebooted): on this host we ask the OS, elsewhere we trust the lock heartbeat."""
    if status != "running":
        return status
    if pid and host == socket.gethostname():
        try:
            os.kill(pid, 0)  # signal 0: existence check only, nothing is sent
        except (ProcessLookupError, OverflowError):
            return "stale"
        except PermissionError:
            return "running"
        return "running"
    if heartbeat_at is not None and now - heartbeat_at > STALE_HEARTBEAT_S:
        return "stale"
    return "running"


def _parse_ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def elapsed(started_at: str | None, finished_at: str | None, now: float) -> float | None:
    start = _parse_ts(started_at)
    if start is None:
        return None
    end = _parse_ts(finished_at)
    return max((end if end is not None else now) - start, 0.0)


class StepRate:
    """The current step's rate, from how `stages.done` moved across the refreshes of the last two
    minutes (the store has no per-item timestamps for student generation or training)."""

    def __init__(self) -> None:
        self._key: tuple[int, str, str] | None = None
        self._seen: deque[tuple[float, int]] = deque()

    def eta(self, stage: StageView, now: float) -> float | None:
        key = (stage.iteration, stage.stage, stage.step)
        if key != self._key:
            self._key, self._seen = key, deque()
        self._seen.append((now, stage.done))
        while len(self._seen) > 2 and now - self._seen[0][0] > RATE_WINDOW_S:
            self._seen.popleft()
        (t0, d0), (t1, d1) = self._seen[0], self._seen[-1]
        if t1 <= t0 or d1 <= d0:
            return None
        return max(stage.total - d1, 0) / ((d1 - d0) / (t1 - t0))


def settings_from_toml(project_dir: Path) -> dict[str, Any]:
    """A never-run project has no settings snapshot in `runs`; read lion.toml's raw values instead
    (no validation or defaults: the dashboard shows '?' for what is not there)."""
    try:
        with (project_dir / "lion.toml").open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _cost_per_call(usage: RoleUsage, endpoint: dict[str, Any]) -> float | None:
    paid = usage.calls - usage.cached
    if paid > 0:
        return usage.cost_usd / paid
    try:
        return (GUESS_PROMPT_TOKENS * float(endpoint["price_input_per_1k"])
                + float(endpoint["max_tokens"]) / 2 * float(endpoint["price_output_per_1k"])) / 1000
    except (KeyError, TypeError, ValueError):
        return None


def projected_cost(cfg: dict[str, Any], roles: dict[str, RoleUsage], *, iterations_done: int, cache_size: int,
                   teacher_missing: int, referee_done: int, referee_retries: int, referee_pairs: int,
                   generator_done: int, accepted: int, generated: int) -> Projection | None:
    """Spent so far + remaining requests × mean cost per request, per role.

    Remaining requests (core/projection.py): for each iteration left, the teacher answers the
    instructions that have none yet (instructions − teacher answers now, then the new ones of each
    later iteration), the referee judges the Cache Pool twice (both orders) plus retries at the
    rate seen so far, and the generator is called new_per_iteration ÷ acceptance rate times; what
    the current iteration already did is subtracted. Mean cost per request is what each role's
    paid requests cost so far, or a price-based guess before its first one. None when lion.toml's
    loop settings are unknown."""
    loop = cfg.get("loop") if isinstance(cfg.get("loop"), dict) else None
    if not loop or "iterations" not in loop or "new_per_iteration" not in loop:
        return None
    per_call: dict[str, float] = {}
    for role, usage in roles.items():
        endpoint = cfg.get(role) if isinstance(cfg.get(role), dict) else {}
        cost = _cost_per_call(usage, endpoint or {})
        if cost is None:
            return None
        per_call[role] = cost
    return project(ProjectionInput(
        iterations=int(loop["iterations"]), iterations_done=iterations_done, cache_size=cache_size,
        new_per_iteration=int(loop["new_per_iteration"]), teacher_missing=teacher_missing,
        referee_done_this_iteration=max(referee_done, 0), generator_done_this_iteration=generator_done,
        acceptance_rate=accepted / generated if generated else 0.0,
        referee_retry_rate=referee_retries / referee_pairs if referee_pairs else 0.0,
        cost_per_call=per_call, spent_usd=sum(u.cost_usd for u in roles.values())))
