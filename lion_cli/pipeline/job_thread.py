"""A student job (training, generation) run from a stage without blocking the event loop.

The job waits on its subprocess in a worker thread, so the loop stays free to take a SIGINT or
SIGTERM the moment it comes (cli/stop_signals.py cancels the stage task): cancelling the await
tells the job to stop its process group (launcher.run_job) and waits until the group is gone, so no
trainer outlives the stage, and every stage is stopped the same way. The job's callbacks run on the
loop's thread (`relay`), where the store is used, never concurrently with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from lion_cli.store.db import Store
from lion_cli.store.jobs import finish_job

T = TypeVar("T")


async def run_job_thread(job: Callable[[threading.Event], T]) -> T:
    """`job(cancel)` in a worker thread; when this await is cancelled, `cancel` is set, the thread is
    waited for (its job stopped and its group killed), and the cancellation goes on."""
    cancel = threading.Event()
    running = asyncio.get_running_loop().run_in_executor(None, job, cancel)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        cancel.set()
        with contextlib.suppress(Exception):  # the job's own "cancelled" failure: the stop is the news
            await running
        raise


async def run_recorded(store: Store, job_row: int, job: Callable[[threading.Event], T],
                       on_end: Callable[[], None]) -> T:
    """run_job_thread(job), its train_jobs row finished as the job ended: done, cancelled (the run was
    stopped) or failed (exit code and error); on_end() however it ended (a progress bar closed)."""
    try:
        result = await run_job_thread(job)
    except BaseException as exc:
        finish_job(store, job_row, "cancelled" if stopped_by(exc) else "failed", getattr(exc, "exit_code", None),
                   str(exc)[-2000:])
        raise
    finally:
        on_end()
    finish_job(store, job_row, "done", 0, None)
    return result


def stopped_by(exc: BaseException) -> bool:
    """Whether a stage's exception is the run being stopped (a signal), not a failure."""
    return isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) or bool(getattr(exc, "cancelled", False))


def relay(fn: Callable[..., Any]) -> Callable[..., None]:
    """fn for a job's worker thread to call: each call runs on the current event loop's thread."""
    loop = asyncio.get_running_loop()

    def on_loop(*args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: lion is on its way out
            loop.call_soon_threadsafe(fn, *args)

    return on_loop
