"""A student job that fails for a real reason, under `lion run`: lion says what went wrong in the job's
own words (its first error line, not the torchrun wrapper's), where the log is and what to do next,
exits 5, marks the stage failed with that error, and prints no traceback of its own."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.loop_helpers import lion, make_project

pytestmark = pytest.mark.slow
EXIT_JOB_FAILED = 5
CORRUPT_WEIGHTS_ERROR = "SafetensorError: Error while deserializing header"


@pytest.fixture
def server() -> Iterator[str]:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.0, 0.02)) as url:
        yield url


def corrupt_weights(model_dir: Path) -> None:
    """A model folder whose config and tokenizer load but whose weights file is not safetensors."""
    (model_dir / "model.safetensors").write_bytes(b"these bytes are not a safetensors file\n" * 64)


def assert_explained(run: Any, error: str, log_glob: str, project: Path) -> Path:
    """stderr: the job's first error line, its log's path and the next step; no traceback; exit 5.
    Returns the log named."""
    assert run.returncode == EXIT_JOB_FAILED, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert error in run.stderr, run.stderr[-3000:]
    assert "ChildFailedError" not in run.stderr  # the wrapper's noise stays in the log
    logged = re.search(r"^  log: (\S+)$", run.stderr, re.M)
    assert logged, run.stderr[-3000:]
    log = Path(logged.group(1))
    assert log.is_file() and log.match(log_glob) and error in log.read_text(errors="replace")
    assert re.search(rf"^  next: .+, then run `lion resume {re.escape(str(project))}`$", run.stderr, re.M), \
        run.stderr[-3000:]
    return log


def failed_stage(project: Path, stage: str) -> str:
    """The stage's stored error, after checking that store and `lion status --json` say failed."""
    conn = sqlite3.connect(project / "lion.db")
    status, detail = conn.execute("SELECT status, detail_json FROM stages WHERE iteration=0 AND stage=?",
                                  (stage,)).fetchone()
    conn.close()
    shown = json.loads(lion("status", str(project), "--json").stdout)
    assert status == "failed" and shown["per_iteration"][0]["stages"][stage]["status"] == "failed"
    return str(json.loads(detail)["error"])


def test_training_on_corrupt_weights_is_explained(server: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    base = tmp_path / "base-model"
    shutil.copytree(tiny_model_dir, base)
    corrupt_weights(base)
    project = make_project(tmp_path, server, base, iterations=1, extra=[
        'student.launcher="torchrun"', "student.nproc_per_node=2", "student.per_device_batch_size=4"])
    run = lion("run", str(project))
    log = assert_explained(run, CORRUPT_WEIGHTS_ERROR, "train-*.log", project)
    # Both ranks failed and torchrun wrapped it: the line shown is still the cause.
    assert "ChildFailedError" in log.read_text(errors="replace")
    error = failed_stage(project, "imitation")
    assert error.startswith("training job failed with exit code 1: ") and CORRUPT_WEIGHTS_ERROR in error


def test_generation_with_a_corrupt_student_is_explained(server: str, tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    project = make_project(tmp_path, server, tiny_model_dir, iterations=1, extra=['student.launcher="torchrun"'])
    trained = lion("run", str(project), "--until", "imitation")
    assert trained.returncode == 0, trained.stderr[-3000:]
    corrupt_weights(project / "students" / "iter-0" / "final")
    run = lion("resume", str(project))
    assert_explained(run, CORRUPT_WEIGHTS_ERROR, "*.jsonl.log", project)
    error = failed_stage(project, "discrimination")
    assert error.startswith("student generation job failed with exit code 1: ")


TORCHRUN_LOG = """\
*****************************************
Setting OMP_NUM_THREADS environment variable for each process to be 1 in default
*****************************************
[rank1]: Traceback (most recent call last):
[rank0]: Traceback (most recent call last):
[rank1]:   File "/job/train.py", line 5, in <module>
[rank0]:   File "/job/train.py", line 5, in <module>
[rank0]:     inner()
[rank0]: ValueError: boom from rank 0
[rank0]:
[rank0]: The above exception was the direct cause of the following exception:
[rank0]:
[rank0]: Traceback (most recent call last):
[rank0]: RuntimeError: wrapped
[rank1]:     inner()
[rank1]: ValueError: boom from rank 1
E1201 10:31:49.819000 6710 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 1)
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
"""


def test_first_error_is_the_root_cause_not_the_wrapper() -> None:
    from lion_cli.student.job_log import first_error

    assert first_error(TORCHRUN_LOG.splitlines()) == "ValueError: boom from rank 0"
    unprefixed = [re.sub(r"^\[rank0\]: ?", "", line) for line in TORCHRUN_LOG.splitlines()
                  if not line.startswith("[rank1]")]
    assert first_error(unprefixed) == "ValueError: boom from rank 0"
    # An entry script's refusal of its spec is one line of its own.
    assert first_error(["[train] loading", "error: spec.json: missing key(s) ['model_path']"]) == \
        "spec.json: missing key(s) ['model_path']"
    # Only the launcher's wrapper, or nothing: no cause to name.
    assert first_error(TORCHRUN_LOG.splitlines()[17:]) is None
    assert first_error(["warning: slow", "UserWarning: a warning is not an error"]) is None
