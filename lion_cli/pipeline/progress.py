"""Progress on stderr for each stage step (done/total, rate, ETA, cost; a training job's step, loss
and tokens/s), mirrored into the store's `stages` row (throttled) so `lion status` and the dashboard
see the same numbers. A terminal gets a live line; a log file a line every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO, TypeVar

from lion_cli.core.aimd import EndpointState
from lion_cli.core.types import Stage
from lion_cli.pipeline.concurrency import for_each
from lion_cli.store.db import Store
from lion_cli.store.progress import update_stage

MIN_STORE_INTERVAL_S = 0.5
REFRESH_S = 1.0           # an API step's line is printed again this often while nothing finishes
LOG_FILE_INTERVAL_S = 5.0  # stderr not a terminal: one line this often (and at the end)

T = TypeVar("T")


class Describes(Protocol):
    def describe(self) -> str: ...


@dataclass(frozen=True)
class GatheringBatch:
    """A batch-mode role with no batch of this step out yet: its requests are being gathered."""

    role: str

    def describe(self) -> str:
        return f"{self.role}: gathering requests into a provider batch"


def role_activity(ctx: Any, role: str) -> Describes:
    """What an API step's line says about its endpoint: online, the engine's requests in flight; in batch
    mode (`[role] mode = "batch"`), the role's newest batch not read yet (its state and line counts), since
    nothing is in flight there while the provider works; with none, that requests are being gathered."""
    from lion_cli.store.batch_ledger import batch_states

    if ctx.settings.endpoint(role).mode != "batch":
        return ctx.engine.state(role)  # type: ignore[no-any-return]
    pending = [b for b in batch_states(ctx.store, role=role) if not b.read]
    return pending[0] if pending else GatheringBatch(role)


def _fmt_eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class StepProgress:
    """One bar: `discrimination · referee  340/1000  12.1/s  ETA 00:54  $0.21`, and for an API step what
    the engine is doing with the endpoint: `  in flight 2/3 (limit found by AIMD, max 32; backing off: HTTP 503)`."""

    def __init__(self, store: Store, iteration: int, stage: Stage, step: str, total: int,
                 spent: Callable[[], float] | None = None, stream: TextIO | None = None, done: int = 0,
                 api: Callable[[], EndpointState | Describes] | None = None) -> None:
        self.store, self.iteration, self.stage, self.step, self.total = store, iteration, stage, step, total
        self.done = done
        self._spent = spent
        self.api = api
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._t0 = time.monotonic()
        self._last_store = 0.0
        self._last_print = 0.0
        update_stage(store, iteration, stage, step=step, done=done, total=total)
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
        api = f"  {self.api().describe()}" if self.api else ""
        return (f"it{self.iteration} {self.stage.value} · {self.step:<9} {self.done}/{self.total}"
                f"  {rate:.1f}/s  ETA {_fmt_eta(eta)}{cost}{api}")

    def refresh(self) -> None:
        """Print again if it is time, with nothing finished since: requests still out show as such."""
        self._print()

    def _print(self, force: bool = False) -> None:
        now = time.monotonic()
        finished = self.done >= self.total
        interval = 0.1 if self._tty else LOG_FILE_INTERVAL_S
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


class TrainProgress(StepProgress):
    """A training job's bar, fed its metrics lines (scripts/train_callbacks.py):
    `it0 imitation · train  step 12/30  loss 2.3140  1,840 tok/s  ETA 00:41`. The rate behind the ETA
    counts only steps of this run (a resumed job starts at its checkpoint's step)."""

    def __init__(self, store: Store, iteration: int, first: dict[str, Any], stream: TextIO | None = None) -> None:
        self.loss: float | None = None
        self.tokens_per_s: float | None = None
        self._note(first)
        self.first_step = int(first["step"])
        super().__init__(store, iteration, Stage.IMITATION, "train", int(first["total_steps"]), stream=stream,
                         done=self.first_step)

    def _note(self, m: dict[str, Any]) -> None:
        if isinstance(m.get("loss"), (int, float)):
            self.loss = float(m["loss"])
        if isinstance(m.get("tokens_per_s"), (int, float)):
            self.tokens_per_s = float(m["tokens_per_s"])

    def metric(self, m: dict[str, Any]) -> None:
        """One metrics line after the first: {"step", "total_steps", "loss", "tokens_per_s", ...}."""
        self._note(m)
        self.total = int(m.get("total_steps") or self.total)
        if int(m["step"]) > self.done:  # the job's closing line repeats the last step: said once
            self.advance(int(m["step"]) - self.done)

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        rate = (self.done - self.first_step) / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        loss = "-" if self.loss is None else f"{self.loss:.4f}"
        speed = "-" if self.tokens_per_s is None else f"{self.tokens_per_s:,.0f}"
        return (f"it{self.iteration} {self.stage.value} · train  step {self.done}/{self.total}  loss {loss}"
                f"  {speed} tok/s  ETA {_fmt_eta(eta)}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def advance_each(items: Iterable[T], fn: Callable[[T], Awaitable[None]], limit: int, bar: StepProgress) -> None:
    """for_each(items, fn, limit), the bar advanced after each item and closed however the run ends."""
    async def step(item: T) -> None:
        await fn(item)
        bar.advance()

    async def keep_fresh() -> None:  # answers can be minutes apart: the engine's state is news meanwhile
        while True:
            await asyncio.sleep(REFRESH_S)
            bar.refresh()

    ticker = asyncio.create_task(keep_fresh()) if bar.api else None
    try:
        await for_each(items, step, limit)
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        bar.close()
