"""Ctrl-C (SIGINT) to a real `lion run` in each kind of stage work: a torchrun training job, a torchrun
student generation job, the referee's API requests. Each time lion and every process it started are
gone within 5 s, the run exits 130, the stage reads `interrupted` in `lion status --json`, nothing
already finished is lost, and `lion resume` goes on from there (training from its checkpoint,
generation from the rows already written, the referee without asking again what was answered)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.loop_helpers import lion, make_project, server_stats, wait_for

STOP_WITHIN_S = 5.0
CONCURRENCY = 8  # demo_overrides: every role's max_concurrency
# torchrun for every job; two training processes (per-device batch 4 × 2 = the global batch of 8).
TORCHRUN = ['student.launcher="torchrun"', "student.nproc_per_node=2", "student.per_device_batch_size=4"]


@pytest.fixture
def slow_server() -> Iterator[str]:
    """The scripted server (one per test: its duplicate count is per project) with enough latency that
    the referee's 48 requests take a few seconds."""
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.25, 0.4)) as url:
        yield url


def start_run(project: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`lion run` in its own session, so the signal the test sends reaches lion alone (as Ctrl-C reaches
    the foreground process, not the job groups lion starts in their own sessions)."""
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "lion_cli", "run", str(project), *args], stdout=fh,
                                stderr=fh, stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _alive(pids: list[int]) -> list[str]:
    left = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{pid} {' '.join(p.cmdline())[:200]}")
        except psutil.NoSuchProcess:
            continue
    return left


def _touching(project: Path) -> list[int]:
    """Processes whose command line names a path inside the project (a job's spec lives there)."""
    pids = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if any(str(project) in part for part in p.info["cmdline"] or []):
            pids.append(p.info["pid"])
    return pids


def interrupt(proc: subprocess.Popen[bytes], project: Path, log: Path, *, job: bool = True) -> dict[str, Any]:
    """SIGINT to lion; asserts it and its whole process tree are gone within STOP_WITHIN_S and that it
    exited 130. `job`: a student job (a launcher and its workers) is running. Returns `lion status
    --json` afterwards."""
    tree = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) >= 2 or not job, f"no launcher and worker under lion: {tree}"
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("lion ignored SIGINT for 60 s") from None
    took = time.monotonic() - start
    text = log.read_text(errors="replace")
    assert took < STOP_WITHIN_S, f"lion took {took:.1f} s to stop; log:\n{text[-3000:]}"
    assert code == 130, f"exit {code}; log:\n{text[-3000:]}"
    time.sleep(0.3)  # a killed process needs a moment to leave the process table
    left = _alive(tree) + _alive([p for p in _touching(project) if p not in tree])
    assert not left, f"processes left behind: {left}"
    assert "Traceback" not in text, text[-3000:]
    status = lion("status", str(project), "--json")
    assert status.returncode == 0, status.stderr
    return dict(json.loads(status.stdout))


def stage_status(status: dict[str, Any], iteration: int, stage: str) -> str:
    """The stage's status as `lion status --json` shows it, after checking that the store itself says
    so (not only a display rule reading a dead run's 'running' row)."""
    import sqlite3

    conn = sqlite3.connect(Path(status["dir"]) / "lion.db")
    stored = conn.execute("SELECT status FROM stages WHERE iteration=? AND stage=?", (iteration, stage)).fetchone()
    conn.close()
    row = next(i for i in status["per_iteration"] if i["iteration"] == iteration)
    shown = str(row["stages"][stage]["status"])
    assert stored[0] == shown, (stored, shown)
    return shown


def finished_checkpoint(out: Path) -> int:
    """The newest checkpoint step the training job finished writing (0 when none)."""
    from lion_cli.student.scripts.train import last_checkpoint

    ckpt = last_checkpoint(out)
    return 0 if ckpt is None else int(ckpt.name.split("-")[-1])


@pytest.mark.slow
def test_ctrl_c_during_training_keeps_the_checkpoint_and_resume_goes_on_from_it(
        slow_server: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    # 24 examples, global batch 8, 10 epochs = 30 steps, a checkpoint every 2.
    project = make_project(tmp_path, slow_server, tiny_model_dir, iterations=1,
                           extra=[*TORCHRUN, "student.epochs=10.0", "student.save_steps=2"])
    out, log = project / "students" / "iter-0", tmp_path / "run.log"
    proc = start_run(project, log)
    try:
        deadline = time.monotonic() + 300
        while finished_checkpoint(out) == 0 and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        status = interrupt(proc, project, log)
    finally:
        proc.kill()
    assert stage_status(status, 0, "imitation") == "interrupted"
    kept = finished_checkpoint(out)
    assert 0 < kept < 30 and not (out / "final").exists()

    done = lion("resume", str(project), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    resumes = [m["from_step"] for m in metrics if m.get("event") == "resume"]
    assert resumes and resumes[-1] >= kept, resumes  # the resumed job started at the checkpoint, not step 0
    assert metrics[-1]["event"] == "done" and metrics[-1]["step"] == 30
    # While it trained, lion said how far it was: step/total, loss, tokens/s and an ETA, on stderr.
    lines = re.findall(r"it0 imitation · train +step (\d+)/30 +loss [\d.]+ +[\d,]+ tok/s +ETA [\d:]+", done.stderr)
    assert len(lines) >= 2 and lines[-1] == "30" and int(lines[0]) >= kept, done.stderr[-3000:]
    assert "it0 imitation · train" not in done.stdout
    assert re.search(r"it0 discrimination · student +24/24 +[\d.]+/s", done.stderr), done.stderr[-3000:]


@pytest.mark.slow
def test_ctrl_c_during_student_generation_keeps_the_rows_written(
        slow_server: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    project = make_project(tmp_path, slow_server, tiny_model_dir, iterations=1, extra=[
        *TORCHRUN, "student.nproc_per_node=1", "student.per_device_batch_size=8",
        "student.generation.batch_size=2", "student.generation.max_new_tokens=96"])
    db, log = project / "lion.db", tmp_path / "run.log"
    proc = start_run(project, log)
    try:
        wait_for(db, "SELECT done >= 4 FROM stages WHERE iteration=0 AND stage='discrimination' "
                     "AND step='student'", proc, timeout=300)
        status = interrupt(proc, project, log)
    finally:
        proc.kill()
    assert stage_status(status, 0, "discrimination") == "interrupted"

    done = lion("resume", str(project), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    progress = project / "students" / "iter-0" / "answers" / "output.jsonl.progress.jsonl"
    starts = [json.loads(line) for line in progress.read_text().splitlines() if '"start"' in line]
    assert starts and sum(s["already"] for s in starts) >= 4, starts  # the rows done before Ctrl-C were kept


@pytest.mark.slow
def test_ctrl_c_during_the_referee_keeps_every_answer(slow_server: str, tmp_path: Path,
                                                      tiny_model_dir: Path) -> None:
    import sqlite3

    project = make_project(tmp_path, slow_server, tiny_model_dir, iterations=1)
    db, log = project / "lion.db", tmp_path / "run.log"
    proc = start_run(project, log)
    try:
        wait_for(db, "SELECT COUNT(*) >= 8 FROM judgements WHERE iteration=0", proc, timeout=300)
        status = interrupt(proc, project, log, job=False)
    finally:
        proc.kill()
    assert stage_status(status, 0, "discrimination") == "interrupted"
    conn = sqlite3.connect(db)
    judged = conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]
    conn.close()
    assert 8 <= judged < 48

    done = lion("resume", str(project), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = server_stats(slow_server)
    # Only requests still in flight at Ctrl-C can have been sent twice.
    assert stats["duplicates"] <= CONCURRENCY, stats


def test_a_second_ctrl_c_kills_a_job_that_will_not_stop(tmp_path: Path) -> None:
    """A job whose launcher and worker both ignore SIGTERM: the first Ctrl-C asks it to stop (and would
    wait out its grace), the second kills it and its worker at once."""
    import asyncio
    import textwrap
    import threading

    from lion_cli.cli.stop_signals import StopOnSignal
    from lion_cli.pipeline.job_thread import run_job_thread
    from lion_cli.student.launcher import run_job

    pid_file = tmp_path / "worker.pid"
    script = tmp_path / "stubborn.py"
    script.write_text(textwrap.dedent(f"""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        worker = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                   "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"],
                                  start_new_session=True)
        open({str(pid_file)!r}, "w").write(str(worker.pid))
        time.sleep(120)
    """), encoding="utf-8")

    def ctrl_c_twice() -> None:
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.05)
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)

    async def stage(stop: StopOnSignal) -> None:
        stop.watch()
        await run_job_thread(lambda cancel: run_job([sys.executable, str(script)], cwd=tmp_path, cancel=cancel,
                                                    poll_s=0.1, grace_s=60))

    threading.Thread(target=ctrl_c_twice, daemon=True).start()
    start = time.monotonic()
    with StopOnSignal() as stop, pytest.raises(KeyboardInterrupt):
        asyncio.run(stage(stop))
    assert time.monotonic() - start < 30 and stop.signals == 2
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive([worker]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive([worker])
