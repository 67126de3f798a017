"""A wrapper around one of lion's training entry scripts (train or dpo) that runs it unchanged but
saves each rank's weights and what it saw as the script reaches its final save: the 2-process
torchrun tests compare the ranks' weights with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_TEMPLATE = """
import json
import os
import lion_cli.student.scripts.train_callbacks as callbacks
from lion_cli.student.scripts import {script}

_finish = callbacks.finish

def finish(trainer, spec, out):
    import torch
    state = {{k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}}
    torch.save(state, out / f"rank{{os.environ['RANK']}}.pt")
    seen = {{"world_size": trainer.args.world_size, "wrapper": type(trainer.model_wrapped).__name__}}
    (out / f"rank{{os.environ['RANK']}}.json").write_text(json.dumps(seen))
    return _finish(trainer, spec, out)

callbacks.finish = finish
raise SystemExit({script}.main())
"""


def rank_dump(script: str) -> str:
    """The wrapper's source for `lion_cli.student.scripts.<script>` ("train" or "dpo")."""
    return _TEMPLATE.format(script=script)


def kill_at_first_checkpoint(argv: list[str], out: Path, log_path: Path, env: dict[str, str]) -> None:
    """Start a training entry script, SIGKILL its process group once it has written its first checkpoint
    in `out` (it must still be running then), and check it died of the kill."""
    import os
    import signal
    import subprocess
    import time

    from lion_cli.student.scripts.train import last_checkpoint

    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 240
            while last_checkpoint(out) is None and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, "the run ended before it could be killed mid-way"
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            assert proc.wait(timeout=30) == -signal.SIGKILL


def kill_training_at_first_checkpoint(job: Any, log_path: Path) -> Path:
    """Write `job` (a TrainSpec) into its output folder, run the training entry script on it, SIGKILL it
    once its first checkpoint is written, and return that checkpoint."""
    import sys

    from lion_cli.student.launcher import job_env
    from lion_cli.student.scripts.train import last_checkpoint
    from lion_cli.student.specs import LaunchConfig

    out = Path(job.output_dir)
    out.mkdir(parents=True)
    job.write(out / "spec.json")
    argv = [sys.executable, "-m", "lion_cli.student.scripts.train", "--spec", str(out / "spec.json")]
    kill_at_first_checkpoint(argv, out, log_path, job_env(LaunchConfig()))
    checkpoint = last_checkpoint(out)
    assert checkpoint is not None
    return checkpoint
