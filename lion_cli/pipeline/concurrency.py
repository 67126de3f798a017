"""Run an async function over many items with a bounded number in flight.

The engine enforces each endpoint's own limits; this bound only keeps the number of live
coroutines (and memory) small when a pool holds 60K instructions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def for_each(items: Iterable[T], fn: Callable[[T], Awaitable[None]], limit: int) -> None:
    """Await fn(item) for every item, at most `limit` at once. After the first exception no new item
    is started, but the calls already in flight run to their end, so an answer already on its way is
    written rather than dropped; then that first exception is re-raised. Cancellation (Ctrl-C, a
    signal) stops every call at once."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    first_error: list[Exception] = []

    async def worker() -> None:
        while not first_error:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await fn(item)
            except Exception as exc:
                first_error.append(exc)
                return

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(limit, queue.qsize())))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    if first_error:
        raise first_error[0]
