"""Estimates only the dashboard shows: elapsed time and the current step's ETA.

Pure functions of what queries.py read. The run's state is store/lock.py's, the money and the
whole run's ETA are core's (projection.py, eta.py): the same as `lion status`."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from lion_cli.tui.snapshot import StageView

RATE_WINDOW_S = 120.0


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
