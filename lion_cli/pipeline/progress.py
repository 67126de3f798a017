"""Progress on stderr for each stage step (done/total, rate, ETA, cost), mirrored into the store's
`stages` row (throttled) so `lion status` and the dashboard see the same numbers."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TextIO, TypeVar

from lion_cli.core.types import Stage
from lion_cli.pipeline.concurrency import for_each
from lion_cli.store.db import Store
from lion_cli.store.progress import update_stage

MIN_STORE_INTERVAL_S = 0.5

T = TypeVar("T")


def _fmt_eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class StepProgress:
    """One bar: `discrimination · referee  340/1000  12.1/s  ETA 00:54  $0.21`."""

    def __init__(self, store: Store, iteration: int, stage: Stage, step: str, total: int,
                 spent: Callable[[], float] | None = None, stream: TextIO | None = None) -> None:
        self.store, self.iteration, self.stage, self.step, self.total = store, iteration, stage, step, total
        self.done = 0
        self._spent = spent
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._t0 = time.monotonic()
        self._last_store = 0.0
        self._last_print = 0.0
        update_stage(store, iteration, stage, step=step, done=0, total=total)
        self._print(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last_store >= MIN_STORE_INTERVAL_S or self.done >= self.total:
            update_stage(self.store, self.iteration, self.stage, done=self.done)
            self._last_store = now
        self._print()

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        cost = f"  ${self._spent():.4f}" if self._spent else ""
        return (f"it{self.iteration} {self.stage.value} · {self.step:<9} {self.done}/{self.total}"
                f"  {rate:.1f}/s  ETA {_fmt_eta(eta)}{cost}")

    def _print(self, force: bool = False) -> None:
        now = time.monotonic()
        finished = self.done >= self.total
        # A terminal gets a live line; a log file gets a line every 10 s and at the end.
        interval = 0.1 if self._tty else 10.0
        if not (force or finished or now - self._last_print >= interval):
            return
        self._last_print = now
        end = "\n" if (finished or not self._tty) else ""
        prefix = "\r\x1b[2K" if self._tty else ""
        print(prefix + self._line(), end=end, file=self._stream, flush=True)

    def close(self) -> None:
        update_stage(self.store, self.iteration, self.stage, done=self.done)
        if self.done < self.total:
            print(("\n" if self._tty else "") + self._line() + "  (stopped)", file=self._stream, flush=True)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def advance_each(items: Iterable[T], fn: Callable[[T], Awaitable[None]], limit: int, bar: StepProgress) -> None:
    """for_each(items, fn, limit), the bar advanced after each item and closed however the run ends."""
    async def step(item: T) -> None:
        await fn(item)
        bar.advance()

    try:
        await for_each(items, step, limit)
    finally:
        bar.close()
