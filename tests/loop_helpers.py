"""Shared plumbing for the loop's end-to-end tests: make a small project against a local server,
run `lion` as a real subprocess, and snapshot what a run decided."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lion_cli.cli.demo import scripted_project as make_project

__all__ = ["PRICED", "kill_at_each", "lion", "make_project", "server_stats", "snapshot", "start_lion", "wait_for"]

# A local server is free by default (core/prices.py): tests that check the spend set prices with these.
PRICED = [f"{role}.{key}={price}" for role in ("teacher", "referee", "generator")
          for key, price in (("price_input_per_1k", 0.0015), ("price_output_per_1k", 0.002))]


def lion(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "lion_cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def start_lion(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "lion_cli", *args], stdout=fh, stderr=fh,
                                stdin=subprocess.DEVNULL)


def wait_for(db: Path, sql: str, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    """Poll the store (read-only, as the dashboard does) until `sql` returns a truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"lion run exited ({proc.returncode}) before: {sql}")
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                row = conn.execute(sql).fetchone()
            finally:
                conn.close()
            if row and row[0]:
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "no such table" not in str(exc):
                raise  # a mistake in `sql`, not a busy store
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for: {sql}")


def kill_at_each(project: Path, points: list[tuple[str, str]], log: Path) -> None:
    """`lion run`, then `lion resume` for each later point, each SIGKILLed once its point's `sql` holds in the
    store (the run must still be going then)."""
    import signal

    for k, (name, sql) in enumerate(points):
        proc = start_lion("resume" if k else "run", str(project), log=log)
        wait_for(project / "lion.db", sql, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"{name}: the run ended before it could be killed"


def snapshot(project: Path) -> dict[str, Any]:
    """What a run decided, by content (ids may differ between projects)."""
    conn = sqlite3.connect(project / "lion.db")
    try:
        pools = {}
        for it, pool in conn.execute("SELECT DISTINCT iteration, pool FROM pool_members"):
            pools[f"{it}:{pool}"] = sorted(r[0] for r in conn.execute(
                "SELECT i.text || '|' || i.input FROM pool_members p JOIN instructions i ON i.id=p.instruction_id"
                " WHERE p.iteration=? AND p.pool=?", (it, pool)))
        labels = sorted(conn.execute(
            "SELECT l.iteration, i.text, l.label, l.gap FROM labels l JOIN instructions i ON i.id=l.instruction_id"))
        accepted = sorted(conn.execute(
            "SELECT iteration, slot, kind, text FROM candidates WHERE accepted=1"))
        return {"pools": pools, "labels": [list(x) for x in labels], "accepted": [list(x) for x in accepted]}
    finally:
        conn.close()


def server_stats(url: str) -> dict[str, Any]:
    import httpx

    base = url.removesuffix("/v1")
    return dict(json.loads(httpx.get(f"{base}/stats", timeout=10).text))
