"""`running_server(...)`: the local server as a real subprocess (`python -m lion_cli serve`), for
tests, benchmarks and the demo. A separate process is the realistic setup: its own event loop and
its own CPU, and killing the client never kills the server.

    with running_server(backend="scripted", latency=(0.2, 1.5), rpm=1200, rate_500=0.01) as url:
        ...  # url is the OpenAI base URL, e.g. http://127.0.0.1:38211/v1

Keyword options are the `lion serve` flags with dashes as underscores (rate_429=0.05 → --rate-429
0.05; True booleans become bare flags). backend: "scripted", "smollm2", or "model" with model=PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KEY_ENV = "LION_SERVE_API_KEY"


def serve_command(backend: str = "scripted", *, model: str | None = None,
                  latency: tuple[float, float] | None = None, **options: Any) -> list[str]:
    cmd = [sys.executable, "-m", "lion_cli", "serve"]
    if backend == "scripted":
        cmd.append("--scripted")
    elif backend == "smollm2":
        cmd.append("--smollm2")
    else:
        cmd += ["--model", str(model or backend)]
    if latency is not None:
        options = {"latency_min": latency[0], "latency_max": latency[1], **options}
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            cmd.append(flag)
        elif value not in (False, None):
            cmd += [flag, str(value)]
    return cmd


@contextmanager
def running_server(backend: str = "scripted", *, model: str | None = None,
                   latency: tuple[float, float] | None = None, api_key: str | None = None,
                   startup_timeout: float = 600.0, **options: Any) -> Iterator[str]:
    """Start `lion serve`, yield its base URL once it listens, stop it (SIGTERM) on exit.
    An api_key travels through the environment, never the command line (visible in `ps`)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if api_key:
        env[KEY_ENV] = api_key
        options["api_key_env"] = KEY_ENV
    cmd = serve_command(backend, model=model, latency=latency, **options)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
    try:
        url = _first_line(proc, startup_timeout)
        if not url.startswith("http"):
            raise RuntimeError(f"`lion serve` did not start (exit {proc.poll()}); see its stderr above")
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """Read up to the URL line without risking a hang if the server never prints it. Lines before it
    are passed on to stderr: a library loading the model may print to stdout (GGUF conversion does)."""
    box: list[str] = []

    def read() -> None:
        while proc.stdout is not None:
            line = proc.stdout.readline()
            if not line or line.startswith("http"):
                box.append(line)
                return
            sys.stderr.write(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""
