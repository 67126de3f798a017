"""SHA-256 of tensors in worker threads, overlapping the arithmetic of the next tensor.

hashlib releases the GIL on large buffers, so a hash running in a thread costs the main thread
nothing while it computes the next difference or sum. Hashing is a third of delta/recover's time;
in the main thread it would run strictly after the arithmetic. At most `max_pending_bytes` of
tensors wait for their hash at once (the caller blocks beyond that), so a 7B model is never held
in memory twice over just to be hashed later.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from lion_cli.export.tensors import tensor_sha256

HASH_THREADS = 2
MAX_PENDING_BYTES = 1 << 30


class TensorHasher(AbstractContextManager["TensorHasher"]):
    """`submit(t)` returns a future of `tensor_sha256(t)`; leaving the `with` waits for every hash."""

    def __init__(self, threads: int = HASH_THREADS, max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lion-hash")
        self._limit = max_pending_bytes
        self._pending = 0
        self._room = threading.Condition()

    def submit(self, t: Any) -> Future[str]:
        size = t.numel() * t.element_size()
        with self._room:
            # One tensor larger than the limit still goes through, alone.
            self._room.wait_for(lambda: self._pending == 0 or self._pending + size <= self._limit)
            self._pending += size
        future = self._pool.submit(tensor_sha256, t)
        future.add_done_callback(lambda _: self._release(size))
        return future

    def _release(self, size: int) -> None:
        with self._room:
            self._pending -= size
            self._room.notify_all()

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)


def resolved(tree: Any) -> Any:
    """`tree` (dicts and lists) with every hash future replaced by its hex digest."""
    if isinstance(tree, Future):
        return tree.result()
    if isinstance(tree, dict):
        return {k: resolved(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [resolved(v) for v in tree]
    return tree
