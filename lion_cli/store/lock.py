"""One `lion run` per project. The lock is a row; a heartbeat thread keeps it fresh. A row whose
process is gone (same host) or whose heartbeat is stale belongs to a killed run and is taken over."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lion_cli.store.db import Store, _connect

HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0


class LockHeld(RuntimeError):
    def __init__(self, pid: int, host: str, age_s: float) -> None:
        super().__init__(f"another `lion run` (pid {pid} on {host}) is running on this project "
                         f"(heartbeat {age_s:.0f} s ago); stop it first or wait for it to finish")
        self.pid, self.host = pid, host


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: an existence check, nothing is sent
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def holder_alive(pid: int | None, host: str | None, heartbeat_at: float | None, now: float) -> bool:
    """Whether the run that holds (or held) the lock is alive: its heartbeat is fresh and, on this
    host, its process exists (elsewhere the heartbeat is all there is to go by)."""
    if heartbeat_at is not None and now - heartbeat_at >= STALE_AFTER_S:
        return False
    if pid and host == socket.gethostname():
        return _pid_alive(pid)
    return True


def run_state(status: str, pid: int | None, host: str | None, heartbeat_at: float | None, now: float) -> str:
    """A run's recorded status, or 'stale' when it says running but its process is gone (killed with
    -9, machine rebooted). `heartbeat_at`: the lock's, when the lock row is there."""
    if status == "running" and not holder_alive(pid, host, heartbeat_at, now):
        return "stale"
    return status


def latest_run_state(store: Store, now: float) -> str:
    """The project's latest run as `run_state` says it, or 'never run'."""
    runs = store.query("SELECT status, pid, host FROM runs ORDER BY id DESC LIMIT 1")
    if not runs:
        return "never run"
    heartbeat = store.scalar("SELECT heartbeat_at FROM run_lock WHERE id = 1")
    return run_state(runs[0]["status"], runs[0]["pid"], runs[0]["host"], heartbeat, now)


@dataclass
class RunLock:
    path: Path
    pid: int
    took_over: str | None
    _stop: threading.Event
    _thread: threading.Thread

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        conn = _connect(self.path)
        try:
            conn.execute("DELETE FROM run_lock WHERE id=1 AND pid=?", (self.pid,))
        finally:
            conn.close()


def _beat(path: Path, pid: int, stop: threading.Event) -> None:
    conn = _connect(path)  # its own connection: SQLite connections are not for sharing across threads
    try:
        while not stop.wait(HEARTBEAT_S):
            try:
                conn.execute("UPDATE run_lock SET heartbeat_at=? WHERE id=1 AND pid=?", (time.time(), pid))
            except sqlite3.OperationalError:
                pass  # busy for longer than the timeout: the next beat will do
    finally:
        conn.close()


def acquire(store: Store, run_id: int | None = None) -> RunLock:
    """Take the project's run lock or raise LockHeld; returns a handle to release."""
    assert store.path is not None
    me, host, now = os.getpid(), socket.gethostname(), time.time()
    took_over = None
    with store.tx() as c:
        row = c.execute("SELECT pid, host, heartbeat_at FROM run_lock WHERE id=1").fetchone()
        if row is not None and row["pid"] != me:
            if holder_alive(row["pid"], row["host"], row["heartbeat_at"], now):
                raise LockHeld(row["pid"], row["host"], now - row["heartbeat_at"])
            took_over = f"took over the lock of a stopped run (pid {row['pid']} on {row['host']})"
        c.execute("INSERT OR REPLACE INTO run_lock (id, run_id, pid, host, heartbeat_at) VALUES (1,?,?,?,?)",
                  (run_id, me, host, now))
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(store.path, me, stop), daemon=True, name="lion-lock")
    thread.start()
    return RunLock(store.path, me, took_over, stop, thread)
