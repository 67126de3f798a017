"""One `lion run` per project: a live holder refuses a second, a killed one is taken over."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lion_cli.store.db import open_store
from lion_cli.store.lock import STALE_AFTER_S, LockHeld, acquire

HOLDER = """
import sys, time
from lion_cli.store.db import open_store
from lion_cli.store.lock import acquire
lock = acquire(open_store(sys.argv[1]))
print("held", flush=True)
time.sleep(120)
"""


def _holder(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_live_holder_refuses_and_killed_holder_is_taken_over(tmp_path: Path) -> None:
    db = tmp_path / "lion.db"
    open_store(db).close()
    proc = _holder(db)
    try:
        with pytest.raises(LockHeld) as exc:
            acquire(open_store(db))
        assert str(proc.pid) in str(exc.value)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lock = acquire(open_store(db))
    assert lock.took_over is not None and str(proc.pid) in lock.took_over
    lock.release()
    assert open_store(db).scalar("SELECT COUNT(*) FROM run_lock") == 0


def test_lock_on_another_host_is_judged_by_its_heartbeat(tmp_path: Path) -> None:
    store = open_store(tmp_path / "lion.db")
    store.conn.execute("INSERT INTO run_lock (id, pid, host, heartbeat_at) VALUES (1, 1, 'elsewhere', ?)",
                       (time.time(),))
    with pytest.raises(LockHeld):
        acquire(store)
    store.conn.execute("UPDATE run_lock SET heartbeat_at=?", (time.time() - STALE_AFTER_S - 1,))
    lock = acquire(store)
    assert lock.took_over and "elsewhere" in lock.took_over
    lock.release()
