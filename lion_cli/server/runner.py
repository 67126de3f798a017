"""Running a server: in the foreground until SIGINT/SIGTERM (`lion serve`), or on a background
thread with its own event loop (tests and benchmarks that want an in-process server)."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lion_cli.server.app import OpenAIServer


async def serve_until_stopped(server: OpenAIServer) -> None:
    """Print the base URL on stdout (scripts capture it), then serve until told to stop."""
    url = await server.start()
    print(url, flush=True)
    print(f"lion serve: listening on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
        print("lion serve: stopped", file=sys.stderr, flush=True)


@contextmanager
def server_in_thread(server: OpenAIServer, timeout: float = 10.0) -> Iterator[str]:
    """Serve on a daemon thread; yields the base URL (…/v1) and stops the server on exit."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, str] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["url"] = loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="lion-test-server", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise RuntimeError("the local server did not start")
    try:
        yield box["url"]
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()
