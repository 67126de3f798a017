"""Run an async function over many items with a bounded number in flight.

The engine enforces each endpoint's own limits; this bound only keeps the number of live
coroutines (and memory) small when a pool holds 60K instructions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def for_each(items: Iterable[T], fn: Callable[[T], Awaitable[None]], limit: int) -> None:
    """Await fn(item) for every item, at most `limit` at once. The first exception cancels the rest
    (work already finished is already written) and is re-raised."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await fn(item)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(limit, queue.qsize())))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
