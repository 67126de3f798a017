"""An endpoint's concurrency slots, as many as its ConcurrencyLimit (core/aimd.py) allows at the
moment, and the Flight of one request through them: when it was sent (its timeout and its latency
count from there, never from its wait in lion's own queue) and how it ended."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from lion_cli.core.aimd import ConcurrencyLimit, Ticket


class AdaptiveSlots:
    """Waiters are let in in arrival order, whenever a slot frees or the limit grows."""

    def __init__(self, control: ConcurrencyLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.control = control
        self.clock = clock
        self.holding = 0       # slots taken, requests still waiting for the rate limit included
        self.on_wire = 0       # requests sent and not yet answered
        self.completed = 0
        self.given_up = 0      # sent, then given up on (timeout, dropped connection): possibly billed
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.holding < self.control.limit and not self._waiters:
            self.holding += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # let in just as it was cancelled: pass the slot on
                self.release()
            else:
                self._waiters.remove(turn)
            raise

    def release(self) -> None:
        self.holding -= 1
        self.wake()

    def wake(self) -> None:
        while self._waiters and self.holding < self.control.limit:
            turn = self._waiters.popleft()
            if not turn.done():
                self.holding += 1
                turn.set_result(None)


class Flight:
    """One attempt inside its slot. `send()` right before the request goes out; then at most one of
    succeeded / refused / gave_up (an attempt that ends otherwise counts as a plain failure)."""

    def __init__(self, slots: AdaptiveSlots) -> None:
        self.slots = slots
        self.sent_at: float | None = None
        self._ticket: Ticket | None = None

    def send(self) -> None:
        self.slots.on_wire += 1
        self.sent_at = self.slots.clock()
        self._ticket = self.slots.control.sent(self.slots.on_wire, self.slots.holding)

    def succeeded(self) -> None:
        if (ticket := self._close()) is not None:
            assert self.sent_at is not None
            self.slots.completed += 1
            self.slots.control.succeeded(ticket, self.slots.clock() - self.sent_at)

    def refused(self, reason: str) -> None:
        if (ticket := self._close()) is not None:
            self.slots.control.refused(ticket, reason)

    def gave_up(self, reason: str) -> None:
        if (ticket := self._close()) is not None:
            self.slots.given_up += 1
            self.slots.control.gave_up(ticket, reason)

    def end(self) -> None:
        """Leaving the slot: an outcome not reported is a failure that says nothing about load."""
        if (ticket := self._close()) is not None:
            self.slots.control.failed(ticket)

    def _close(self) -> Ticket | None:
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            self.slots.on_wire -= 1
        return ticket
