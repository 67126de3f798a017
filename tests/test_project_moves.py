"""Projects that move: a project copied elsewhere, its original renamed away, is shown, exported,
evaluated and resumed from where it now is, and nothing is read from (or written to) where it was;
an interrupted `lion demo` is resumed with its local server started again on a fresh port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lion_cli.store.db import open_store
from lion_cli.store.paths import read_path, stored_path
from tests.check_support import fingerprint
from tests.loop_helpers import lion, make_project

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def test_store_paths_are_relative_to_the_project(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        assert stored_path(store, tmp_path / "students" / "iter-0" / "final") == "students/iter-0/final"
        assert stored_path(store, "/models/llama-7b") == "/models/llama-7b"  # outside: it does not move
        assert read_path(store, "students/iter-0/final") == str(tmp_path / "students" / "iter-0" / "final")
        assert read_path(store, "/old/place/students/x") == "/old/place/students/x"  # a store from before


def test_a_runs_settings_are_stored_without_credentials_in_a_base_url(tmp_path: Path) -> None:
    from lion_cli.config import parse_settings
    from lion_cli.store.progress import begin_run

    settings = parse_settings({"teacher": {"base_url": "https://bob:s3cret-pass-1234@api.example.com/v1"}})
    with open_store(tmp_path / "lion.db") as store:
        begin_run(store, settings.model_dump_json(), "test")
        stored = str(store.scalar("SELECT settings_json FROM runs"))
    assert "s3cret" not in stored and "bob" not in stored
    assert json.loads(stored)["teacher"]["base_url"] == "https://***@api.example.com/v1"


def _run_ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = lion(*args)
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return done


def _mentions(done: subprocess.CompletedProcess[str], where: Path) -> bool:
    return str(where) in done.stdout + done.stderr


@pytest.mark.slow
def test_a_copied_project_works_where_it_now_is(tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    root = tmp_path / "first"
    root.mkdir()
    shutil.copytree(tiny_model_dir, root / "proj" / "base")  # base_model = "base", beside lion.toml
    with running_server(backend="scripted") as url:
        original = make_project(root, url, Path("base"), iterations=1, seeds=16, extra=["loop.train_from=previous"])
        _run_ok("run", str(original))
        copy = shutil.copytree(original, tmp_path / "second" / "proj", symlinks=True)
        away = original.rename(root / "moved-away")  # any read of the old path would now fail
        before = fingerprint(away)

        status = _run_ok("status", str(copy), "--json")
        student = json.loads(status.stdout)["per_iteration"][0]["student_path"]
        assert student == str(copy / "students" / "iter-0" / "final")
        # --base defaults to the project's base_model, read where the project now is
        delta = _run_ok("export", "delta", "-C", str(copy), "--iteration", "0",
                        "--out", str(copy / "exports" / "delta"))
        data = _run_ok("export", "data", "-C", str(copy), "--format", "jsonl",
                       "--out", str(copy / "exports" / "d.jsonl"))
        evaluated = _run_ok("eval", "bbh", "-C", str(copy), "--iteration", "0", "--tasks", "navigate", "--limit", "2",
                            "--protocol", "lion", "--mode", "loglik", "--data-dir", str(DATA))
        resumed = _run_ok("resume", str(copy), "--iterations", "2")
    for done in (status, delta, data, evaluated, resumed):
        assert not _mentions(done, original) and not _mentions(done, away), done.stderr[-2000:]
    assert _mentions(delta, copy / "students" / "iter-0" / "final")
    # iteration 1's student (trained by the first run, as its final imitation, from iteration 0's) is where
    # iteration 2 starts, read in the copy
    assert f"from {copy / 'students' / 'iter-1' / 'final'}" in resumed.stderr, resumed.stderr[-2000:]
    assert (copy / "exports" / "delta").is_dir() and (copy / "evals").is_dir()
    assert not original.exists() and fingerprint(away) == before  # nothing written where it was
    conn = sqlite3.connect(copy / "lion.db")
    try:
        stored = [r[0] for r in conn.execute("SELECT student_path FROM iterations WHERE student_path IS NOT NULL")]
        stored += [r[0] for r in conn.execute("SELECT output_dir FROM train_jobs")]
        stored += [r[0] for r in conn.execute("SELECT path FROM export_records")]
        specs = [json.loads(r[0]) for r in conn.execute("SELECT spec_json FROM train_jobs")]
    finally:
        conn.close()
    assert stored and all(not os.path.isabs(p) for p in stored), stored
    paths = [s[k] for s in specs for k in ("model_path", "data_path", "output_dir", "input_path", "output_path")
             if k in s]
    assert paths and all(not os.path.isabs(p) for p in paths), specs


def _wait_running(db: Path, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Until the store shows a stage running (the first one, imitation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "lion demo ended before its first stage started"
        if db.exists():
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                try:
                    if conn.execute("SELECT 1 FROM stages WHERE status = 'running'").fetchone():
                        return
                finally:
                    conn.close()
            except sqlite3.OperationalError:
                pass  # not created yet, or busy
        time.sleep(0.05)
    raise AssertionError("no stage started")


@pytest.mark.slow
def test_an_interrupted_demo_resumes_with_its_server_started_again(tmp_path: Path) -> None:
    demo = tmp_path / "lion-demo"
    log = tmp_path / "demo.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        # Its own session: SIGINT goes to the whole group, as Ctrl-C in a terminal does (server included).
        proc = subprocess.Popen([sys.executable, "-m", "lion_cli", "demo", "--scripted", str(demo)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            _wait_running(demo / "lion.db", proc)
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    said = log.read_text(encoding="utf-8", errors="replace")
    assert code == 130, said[-3000:]
    assert f"`lion resume {demo}` starts its local server again" in said, said[-3000:]
    record = json.loads((demo / "demo-server.json").read_text(encoding="utf-8"))
    assert record["command"] == ["lion", "serve", "--scripted"] and "127.0.0.1" not in json.dumps(record)
    toml = (demo / "lion.toml").read_text(encoding="utf-8")

    resumed = lion("resume", str(demo), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "is gone: starting it again" in resumed.stderr
    assert (demo / "lion.toml").read_text(encoding="utf-8") == toml  # the new port is for that run only
    status = json.loads(_run_ok("status", str(demo), "--json").stdout)
    assert status["finished"] is True and status["per_iteration"][0]["accepted"] > 0
    assert status["per_iteration"][0]["student_path"] == str(demo / "students" / "iter-0" / "final")
