"""Starting a student job: the command line for its launcher (a pure argv builder), the job's
environment, and a runner that owns the job's process group (log, metrics tail, cancel, OOM named).

The launchers are started as `python -m <their module>` with the running interpreter, so a job uses
the same environment as lion whatever is on PATH. Single-node runs get a free master port each, so
two jobs on one machine never collide. What a job is asked to do is its spec (specs/); jobs.py
writes the spec, runs the job here and reads its results.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lion_cli.student import process_tree
from lion_cli.student.job_log import first_error_in
from lion_cli.student.specs import LaunchConfig

TAIL_LINES = 30
# A job asked to stop gets SIGTERM, then SIGKILL after this long: its last checkpoint is already on
# disk (a checkpoint is complete only once written), and lion promises to stop within seconds.
STOP_GRACE_S = 2.0
OOM_MARKERS = ("CUDA out of memory", "OutOfMemoryError", "Cannot allocate memory", "std::bad_alloc")
# torchrun/deepspeed report a child killed by the kernel's OOM killer as signal 9 in their own words.
SIGKILL_MARKERS = ("Signal 9 (SIGKILL)", "exitcode  : -9", "return code = -9")


def job_env(launch: LaunchConfig, extra: dict[str, str] | None = None,
            base: dict[str, str] | None = None) -> dict[str, str]:
    """A job's environment: lion importable (also from a source checkout), the CPU threads split
    between the processes of this node, no tokenizer thread pools, unbuffered output; then `extra`."""
    env = dict(os.environ if base is None else base)
    threads = max(1, (os.cpu_count() or 2) // launch.nproc_per_node)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return {**env, **(extra or {})}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"rdzv_endpoint {endpoint!r}: expected host:port")
    return host, port


def build_argv(cfg: LaunchConfig, module: str, args: list[str]) -> list[str]:
    """The command line that runs `python -m module args` under cfg's launcher. Pure but for picking a
    free port when cfg.master_port is None on a single node."""
    py = sys.executable
    single = cfg.nnodes == 1
    port = cfg.master_port if cfg.master_port is not None else (free_port() if single else 29500)
    if cfg.launcher == "python":
        return [py, "-m", module, *args]
    if cfg.launcher == "torchrun":
        argv = [py, "-m", "torch.distributed.run"]
        if single:
            # --standalone uses its own rendezvous on a free port; no master port to collide on.
            argv += ["--standalone", "--nproc_per_node", str(cfg.nproc_per_node)]
        else:
            argv += ["--nnodes", str(cfg.nnodes), "--node_rank", str(cfg.node_rank),
                     "--nproc_per_node", str(cfg.nproc_per_node), "--rdzv_backend", "c10d",
                     "--rdzv_endpoint", cfg.rdzv_endpoint, "--rdzv_id", cfg.rdzv_id]
        return [*argv, "-m", module, *args]
    if cfg.launcher == "deepspeed":
        argv = [py, "-m", "deepspeed.launcher.runner"]
        if cfg.hostfile:
            argv += ["--hostfile", cfg.hostfile, "--num_nodes", str(cfg.nnodes)]
        else:
            argv += ["--num_nodes", str(cfg.nnodes)]
        argv += ["--include", cfg.include] if cfg.include else ["--num_gpus", str(cfg.nproc_per_node)]
        return [*argv, "--master_port", str(port), "--module", module, *args]
    # accelerate launch
    argv = [py, "-m", "accelerate.commands.launch", "--num_processes", str(cfg.world_size),
            "--num_machines", str(cfg.nnodes)]
    if single:
        argv += ["--main_process_port", str(port)]
    else:
        host, rport = _split_endpoint(cfg.rdzv_endpoint)
        argv += ["--machine_rank", str(cfg.node_rank), "--main_process_ip", host, "--main_process_port", rport]
    if cfg.world_size > 1:
        argv += ["--multi_gpu"]
    return [*argv, "-m", module, *args]


@dataclass
class JobResult:
    exit_code: int
    log_path: Path
    tail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    metrics: int = 0  # metric lines seen


class JobFailed(RuntimeError):
    """A job exited non-zero (or was cancelled); carries the exit code, the end of its log and the
    log's first root-cause error line (`error_line`, job_log.first_error; None when there is none)."""

    def __init__(self, exit_code: int, tail: list[str], log_path: Path, *, oom: bool = False,
                 cancelled: bool = False, error_line: str | None = None, what: str = "job") -> None:
        self.exit_code, self.tail, self.log_path, self.oom, self.cancelled = exit_code, tail, log_path, oom, cancelled
        self.error_line, self.what = error_line, what
        super().__init__(f"{self.what} {self.outcome}; log {log_path}; last lines:\n" + "\n".join(tail))

    @property
    def outcome(self) -> str:
        if self.cancelled:
            return "cancelled"
        if self.oom:
            return f"ran out of memory (exit code {self.exit_code})"
        return f"failed with exit code {self.exit_code}"

    @property
    def cause(self) -> str:
        """One line: the job, how it ended and its log's first error ('training job failed with exit
        code 1: ValueError: ...'), without the log tail."""
        return f"{self.what} {self.outcome}" + (f": {self.error_line}" if self.error_line else "")


def looks_oom(exit_code: int, tail: list[str]) -> bool:
    text = "\n".join(tail)
    if any(m in text for m in OOM_MARKERS):
        return True
    # Killed by SIGKILL that we did not send: on Linux that is almost always the OOM killer.
    return exit_code == -signal.SIGKILL or any(m in text for m in SIGKILL_MARKERS)


class _MetricsTail:
    """Reads new complete lines appended to a JSONL file since the last poll."""

    def __init__(self, path: Path | None, on_metric: Callable[[dict[str, Any]], None] | None) -> None:
        self.path, self.on_metric, self.pos, self.count = path, on_metric, 0, 0
        if path is not None and path.exists():
            self.pos = path.stat().st_size  # lines from an earlier run were already reported

    def poll(self) -> None:
        if self.path is None or not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            fh.seek(self.pos)
            chunk = fh.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self.pos += end + 1
        for line in chunk[: end + 1].splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                self.count += 1
                if self.on_metric is not None and isinstance(row, dict):
                    self.on_metric(row)


# The process groups of the jobs running now, for a second Ctrl-C to kill at once (kill_live_jobs).
# No lock: a signal handler reads it in whatever thread it interrupts; add/discard/tuple() hold the GIL.
_live_groups: set[int] = set()


def kill_live_jobs() -> None:
    """SIGKILL every job this process has running, workers included. Safe in a signal handler."""
    for pgid in tuple(_live_groups):
        process_tree.kill_now(pgid)


def _kill_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """Stop a job: SIGTERM to its group and to every process below its launcher (process_tree.py:
    torchrun's workers are not in its group); once those are gone, or after grace_s, SIGKILL to
    whatever is left (a launcher has nothing to save and can spend seconds on its own exit). A job
    without a launcher is its own worker and gets the whole grace."""
    family = process_tree.descendants(proc.pid)
    process_tree.send(proc.pid, family, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if family:
            family |= process_tree.descendants(proc.pid)  # one started meanwhile
            if not any(process_tree.alive(pid) for pid in family):
                break
        elif proc.poll() is not None:
            break
        time.sleep(0.05)
    process_tree.send(proc.pid, {pid for pid in family if process_tree.alive(pid)}, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10.0)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies. A `lion run` killed
    with SIGKILL cannot stop its trainer's process group itself; without this the orphan would keep
    training into the folder the resumed run is about to use."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def run_job(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, metrics_path: Path | None = None,
            on_metric: Callable[[dict[str, Any]], None] | None = None, cancel: threading.Event | None = None,
            log_path: Path | None = None, poll_s: float = 0.5, grace_s: float = STOP_GRACE_S,
            what: str = "job") -> JobResult:
    """Run argv in its own process group; stdout+stderr go to `log_path` (default cwd/job-<id>.log).

    While it runs, new lines of metrics_path are passed to on_metric. Setting `cancel` stops the whole
    group (SIGTERM, then SIGKILL after grace_s) and raises JobFailed(cancelled=True); so does any
    exception in the waiting thread (a KeyboardInterrupt), re-raised once the group is gone.
    `what` names the job in JobFailed ("training job", ...).
    """
    cwd.mkdir(parents=True, exist_ok=True)
    log_path = log_path or cwd / f"job-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.log"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    metrics = _MetricsTail(metrics_path, on_metric)
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        cancelled = False
        _live_groups.add(proc.pid)
        try:
            while proc.poll() is None:
                if cancel is not None and cancel.wait(poll_s):
                    cancelled = True
                    _kill_group(proc, grace_s)
                    break
                if cancel is None:
                    time.sleep(poll_s)
                metrics.poll()
        except BaseException:
            _kill_group(proc, STOP_GRACE_S)  # e.g. Ctrl-C in the parent: never leave trainers behind
            raise
        finally:
            _live_groups.discard(proc.pid)
        code = proc.wait()
        metrics.poll()
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            tail.append(line.rstrip("\n"))
    if cancelled or code != 0:
        raise JobFailed(code, list(tail), log_path, oom=not cancelled and looks_oom(code, list(tail)),
                        cancelled=cancelled, error_line=None if cancelled else first_error_in(log_path), what=what)
    return JobResult(code, log_path, list(tail), time.monotonic() - start, metrics.count)
