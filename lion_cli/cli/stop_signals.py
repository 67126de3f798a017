"""SIGINT (Ctrl-C) and SIGTERM during `lion run`: one way to stop, whatever the stage is doing.

The first signal cancels the loop's task. An API request in flight is dropped (every answer already
received was stored as it arrived); a student job waiting in its thread has its process group stopped
and waited for (pipeline/job_thread.py); the stage is marked interrupted (pipeline/loop.py) and the
run exits 130. A second signal kills every job group at once and raises KeyboardInterrupt wherever
the main thread is. Before the loop's task is running, the first signal raises KeyboardInterrupt.

asyncio.run's own Ctrl-C handler cancels the task too, but for SIGINT only, and it is not installed
when another handler is: this one replaces it for both signals.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType, TracebackType
from typing import Any

from lion_cli.student.launcher import kill_live_jobs

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    """`with StopOnSignal() as stop:` installs the handler (main thread only) and restores the previous
    ones on exit; `stop.watch()`, awaited from inside the loop, names the task a signal cancels."""

    def __init__(self) -> None:
        self.signals = 0
        self._finishing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def watch(self) -> None:
        """Called from the loop's main coroutine: a signal from now on cancels it."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()

    def finishing(self) -> None:
        """The loop is over: a signal now would only cut short the run's last writes (its status, the
        lock's release), which take a moment; it is counted and otherwise ignored."""
        self._finishing = True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self._finishing:
            return
        task, loop = self._task, self._loop
        if self.signals == 1 and task is not None and loop is not None and not task.done():
            loop.call_soon_threadsafe(task.cancel)  # also wakes a loop asleep in select()
            return
        if self.signals > 1:
            kill_live_jobs()
        raise KeyboardInterrupt(f"signal {signum}")
