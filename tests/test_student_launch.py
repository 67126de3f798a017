"""The launcher side: argv builders, the job runner (errors, OOM, cancel, metrics streamed into the
store while the job runs) and the train_jobs / train_metrics rows. Jobs here are small Python scripts."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lion_cli.store.db import open_store
from lion_cli.store.jobs import add_metric, finish_job, job_metrics, start_job
from lion_cli.student.jobs import effective_launch
from lion_cli.student.launcher import JobFailed, build_argv, job_env, run_job
from lion_cli.student.specs import LaunchConfig, TrainSpec

PY = sys.executable
MOD = "lion_cli.student.scripts.train"
ARGS = ["--spec", "s.json"]


def test_argv_python_and_single_node_torchrun() -> None:
    assert build_argv(LaunchConfig(), MOD, ARGS) == [PY, "-m", MOD, *ARGS]
    assert build_argv(LaunchConfig("torchrun", nproc_per_node=2), MOD, ARGS) == [
        PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", MOD, *ARGS]


def test_argv_multi_node_torchrun() -> None:
    cfg = LaunchConfig("torchrun", nproc_per_node=8, nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29400")
    assert cfg.world_size == 16
    assert build_argv(cfg, MOD, ARGS) == [
        PY, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", "1", "--nproc_per_node", "8",
        "--rdzv_backend", "c10d", "--rdzv_endpoint", "10.0.0.1:29400", "--rdzv_id", "lion", "-m", MOD, *ARGS]
    with pytest.raises(ValueError, match="rdzv_endpoint"):
        LaunchConfig("torchrun", nnodes=2)


def test_argv_deepspeed_single_node_hostfile_and_include() -> None:
    assert build_argv(LaunchConfig("deepspeed", nproc_per_node=2, master_port=29555), MOD, ARGS) == [
        PY, "-m", "deepspeed.launcher.runner", "--num_nodes", "1", "--num_gpus", "2", "--master_port", "29555",
        "--module", MOD, *ARGS]
    cfg = LaunchConfig("deepspeed", nproc_per_node=8, nnodes=2, hostfile="/etc/hosts.ds",
                       include="node1:0,1@node2:0,1", master_port=29500)
    assert build_argv(cfg, MOD, ARGS) == [
        PY, "-m", "deepspeed.launcher.runner", "--hostfile", "/etc/hosts.ds", "--num_nodes", "2",
        "--include", "node1:0,1@node2:0,1", "--master_port", "29500", "--module", MOD, *ARGS]
    with pytest.raises(ValueError, match="hostfile"):
        LaunchConfig("deepspeed", nnodes=2)
    # A free port is picked per single-node job when none is set.
    argv = build_argv(LaunchConfig("deepspeed", nproc_per_node=2), MOD, ARGS)
    assert int(argv[argv.index("--master_port") + 1]) > 0


def test_argv_accelerate_single_and_multi_node() -> None:
    assert build_argv(LaunchConfig("accelerate", nproc_per_node=4, master_port=29600), MOD, ARGS) == [
        PY, "-m", "accelerate.commands.launch", "--num_processes", "4", "--num_machines", "1",
        "--main_process_port", "29600", "--multi_gpu", "-m", MOD, *ARGS]
    cfg = LaunchConfig("accelerate", nproc_per_node=8, nnodes=2, node_rank=1, rdzv_endpoint="head:29500")
    assert build_argv(cfg, MOD, ARGS) == [
        PY, "-m", "accelerate.commands.launch", "--num_processes", "16", "--num_machines", "2",
        "--machine_rank", "1", "--main_process_ip", "head", "--main_process_port", "29500", "--multi_gpu",
        "-m", MOD, *ARGS]
    with pytest.raises(ValueError, match="launcher 'python' runs one process"):
        LaunchConfig("python", nproc_per_node=2)


def test_deepspeed_strategy_switches_the_launcher_and_env_splits_threads(tmp_path: Path) -> None:
    spec = TrainSpec(model_path="m", data_path="d", output_dir="o", strategy="zero3")
    assert effective_launch(spec, LaunchConfig("torchrun", nproc_per_node=2)).launcher == "deepspeed"
    assert effective_launch(TrainSpec("m", "d", "o"), LaunchConfig("torchrun")).launcher == "torchrun"
    env = job_env(LaunchConfig("torchrun", nproc_per_node=2), base={})
    assert env["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 2) // 2))
    assert str(Path(__file__).resolve().parents[1]) in env["PYTHONPATH"].split(os.pathsep)


def test_spec_check_names_the_key(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="strategy 'zero4'"):
        TrainSpec("m", str(data), "o", strategy="zero4").validate(1)
    with pytest.raises(ValueError, match=r"data_path .*no such file"):
        TrainSpec("m", str(tmp_path / "nope.jsonl"), "o").validate(1)
    with pytest.raises(ValueError, match="global_batch_size 128 is not divisible"):
        TrainSpec("m", str(data), "o", per_device_batch_size=5).validate(2)
    TrainSpec("m", str(data), "o").validate(8)


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [PY, str(path)]


def test_failed_job_reports_exit_code_and_log_tail(tmp_path: Path) -> None:
    argv = _script(tmp_path, """
        import sys
        for i in range(50):
            print(f"line {i}", file=sys.stderr)
        sys.exit(3)
    """)
    with pytest.raises(JobFailed) as info:
        run_job(argv, cwd=tmp_path, log_path=tmp_path / "job.log")
    exc = info.value
    assert exc.exit_code == 3 and not exc.oom and not exc.cancelled
    assert exc.tail[-1] == "line 49" and len(exc.tail) == 30
    assert "failed with exit code 3" in str(exc) and "line 49" in str(exc) and str(tmp_path / "job.log") in str(exc)


def test_out_of_memory_is_named(tmp_path: Path) -> None:
    argv = _script(tmp_path, """
        import sys
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
        sys.exit(1)
    """)
    with pytest.raises(JobFailed, match=r"out of memory \(exit code 1\)") as info:
        run_job(argv, cwd=tmp_path)
    assert info.value.oom
    # Killed by SIGKILL that lion did not send: the kernel's OOM killer, as far as lion can tell.
    killed = _script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    with pytest.raises(JobFailed, match="out of memory") as info:
        run_job(killed, cwd=tmp_path)
    assert info.value.exit_code == -9


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by its parent) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_cancel_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    argv = _script(tmp_path, f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(120)
    """)
    cancel = threading.Event()

    def trip() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        cancel.set()

    threading.Thread(target=trip, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(JobFailed, match="cancelled") as info:
        run_job(argv, cwd=tmp_path, cancel=cancel, poll_s=0.1, grace_s=5)
    assert info.value.cancelled and time.monotonic() - start < 60
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the launcher's child survived the cancel"


def test_cancel_reaches_workers_in_their_own_session(tmp_path: Path) -> None:
    """torchrun starts each worker in a session of its own: a signal to the launcher's group misses it,
    and a launcher killed outright leaves it running. Here the launcher also ignores SIGTERM."""
    pid_file = tmp_path / "worker.pid"
    argv = _script(tmp_path, f"""
        import signal, subprocess, sys, time
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(pid_file)!r}, "w").write(str(worker.pid))
        time.sleep(120)
    """)
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def trip() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        cancelled_at.append(time.monotonic())
        cancel.set()

    threading.Thread(target=trip, daemon=True).start()
    with pytest.raises(JobFailed, match="cancelled"):
        run_job(argv, cwd=tmp_path, cancel=cancel, poll_s=0.1, grace_s=30)
    stopped = time.monotonic()
    worker = int(pid_file.read_text())
    while _alive(worker) and time.monotonic() < stopped + 5:
        time.sleep(0.1)
    assert not _alive(worker), "the worker outlived its launcher"
    # The launcher got SIGKILL as soon as its worker was gone, not after the 30 s grace.
    assert stopped - cancelled_at[0] < 5


def test_metrics_reach_the_store_while_the_job_runs(tmp_path: Path) -> None:
    """The job writes two metric lines, then waits for a file that the test creates only after
    reading those rows back from the store through a second connection. Rows written only after
    the job exits would make it time out and fail (exit 5)."""
    metrics, go = tmp_path / "metrics.jsonl", tmp_path / "go"
    argv = _script(tmp_path, f"""
        import json, os, sys, time
        def emit(row):
            with open({str(metrics)!r}, "a") as fh:
                fh.write(json.dumps(row) + "\\n")
        emit({{"event": "resume", "from_step": 0}})
        emit({{"step": 1, "loss": 2.5, "lr": 1e-4, "tokens": 100, "tokens_per_s": 50.0, "total_steps": 3}})
        emit({{"step": 2, "loss": 2.0, "lr": 1e-4, "tokens": 200, "tokens_per_s": 50.0, "total_steps": 3}})
        deadline = time.time() + 30
        while not os.path.exists({str(go)!r}):
            if time.time() > deadline:
                sys.exit(5)
            time.sleep(0.05)
        emit({{"step": 3, "loss": 1.5, "lr": 0.0, "tokens": 300, "total_steps": 3, "epoch": 1.0}})
        emit({{"event": "done", "step": 3}})
    """)
    db = tmp_path / "lion.db"
    store = open_store(db)
    job = start_job(store, 0, "train", "{}", str(tmp_path), None)
    seen_live: list[int] = []

    def on_metric(m: dict[str, Any]) -> None:
        add_metric(store, job, m)
        if m.get("step") == 2:
            reader = open_store(db, readonly=True)
            seen_live.extend(r["step"] for r in job_metrics(reader, job))
            reader.conn.close()
            go.touch()

    result = run_job(argv, cwd=tmp_path, metrics_path=metrics, on_metric=on_metric, poll_s=0.05)
    finish_job(store, job, "done", result.exit_code, None)
    assert seen_live == [1, 2]
    rows = job_metrics(store, job)
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[0]["loss"] == 2.5 and rows[2]["tokens"] == 300
    job_row = store.query("SELECT status, exit_code, total_steps FROM train_jobs WHERE id=?", (job,))[0]
    assert (job_row["status"], job_row["exit_code"], job_row["total_steps"]) == ("done", 0, 3)
    assert result.metrics == 5


def test_resumed_steps_replace_their_rows_and_bad_status_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path / "lion.db")
    job = start_job(store, None, "train", "{}", str(tmp_path), None)
    assert add_metric(store, job, {"step": 4, "loss": 3.0})
    assert add_metric(store, job, {"step": 4, "loss": 2.0})  # the resumed run repeats step 4
    assert not add_metric(store, job, {"event": "resume", "from_step": 3})
    assert not add_metric(store, job, {"loss": 1.0})
    assert [(r["step"], r["loss"]) for r in job_metrics(store, job)] == [(4, 2.0)]
    with pytest.raises(ValueError, match="job status 'weird'"):
        finish_job(store, job, "weird", None, None)
