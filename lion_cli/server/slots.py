"""The server's slots, as llama.cpp has them: at most `slots` requests are worked on at once, each for
at least `service_time_s`; the others wait in arrival order. A request whose client has given up
still waits its turn and is still answered (llama.cpp does the same, and a paid API bills it),
which is what makes too many requests in flight expensive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class ServerSlots:
    def __init__(self, slots: int = 0, service_time_s: float = 0.0) -> None:
        if slots < 0 or service_time_s < 0:
            raise ValueError(f"slots must be ≥ 0 (0 = unlimited) and service time ≥ 0, got {slots}, {service_time_s}")
        self.slots = slots
        self.service_time_s = service_time_s
        self._free = asyncio.Semaphore(slots) if slots else None
        self.busy = 0
        self.waiting = 0
        self.most_waiting = 0
        self.served = 0
        self.waited_s = 0.0      # time requests spent in the queue, all together

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """One request's turn: wait for a free slot, do the work inside, then the service time."""
        queued = time.monotonic()
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            if self._free is not None:
                await self._free.acquire()
        finally:
            self.waiting -= 1
        self.waited_s += time.monotonic() - queued
        self.busy += 1
        try:
            yield
            await asyncio.sleep(self.service_time_s)
            self.served += 1
        finally:
            self.busy -= 1
            if self._free is not None:
                self._free.release()

    def as_json(self) -> dict[str, Any]:
        return {"slots": self.slots, "service_time_s": self.service_time_s, "busy": self.busy,
                "waiting": self.waiting, "most_waiting": self.most_waiting, "served": self.served,
                "mean_wait_s": self.waited_s / self.served if self.served else 0.0}
