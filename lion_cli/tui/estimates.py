"""Estimates only the dashboard shows: run state, elapsed time, the current step's ETA.

Pure functions of what queries.py read (plus a process-liveness probe). The money and the whole
run's ETA are core/projection.py's, the same as `lion status`."""

from __future__ import annotations

import os
import socket
from collections import deque
from datetime import datetime

from lion_cli.tui.snapshot import StageView

STALE_HEARTBEAT_S = 120.0
RATE_WINDOW_S = 120.0


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
