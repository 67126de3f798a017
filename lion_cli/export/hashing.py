"""SHA-256 of tensors in worker threads, overlapping the arithmetic of the next tensor.

hashlib releases the GIL on large buffers, so a hash running in a thread costs the main thread
nothing while it computes the next difference or sum. Hashing is a third of delta/recover's time;
in the main thread it would run strictly after the arithmetic. At most `max_pending_bytes` of
tensors wait for their hash at once (the caller blocks beyond that), so a 7B model is never held
in memory twice over just to be hashed later.

While hashes run, torch's own op threads are limited to the cores the hash threads leave free.
torch's OpenMP team waits at the end of every operation for its slowest thread, so one thread
that shares its core with a hash (or with any other process) stalls the whole team; on a busy
2-core machine two op threads made the subtraction, the addition and the bit comparison about
ten times slower in CPU time than one.
"""

from __future__ import annotations

import os
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
        self._torch_threads = max(1, _usable_cores() - threads)
        self._saved_torch_threads = 0

    def __enter__(self) -> TensorHasher:
        import torch

        self._saved_torch_threads = torch.get_num_threads()
        torch.set_num_threads(min(self._saved_torch_threads, self._torch_threads))
        return self

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
        import torch

        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
        if self._saved_torch_threads:
            torch.set_num_threads(self._saved_torch_threads)


def _usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolved(tree: Any) -> Any:
    """`tree` (dicts and lists) with every hash future replaced by its hex digest."""
    if isinstance(tree, Future):
        return tree.result()
    if isinstance(tree, dict):
        return {k: resolved(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [resolved(v) for v in tree]
    return tree
