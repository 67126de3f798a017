"""What the pipeline, eval and the CLI call to run the student: train(), dpo(), generate(), score_options().

Each writes its job's spec (student/specs/) beside the job's output, runs the matching entry script under
the chosen launcher as a subprocess (launcher.run_job), and reads what the script wrote. torch is
never imported here, so a crash or an OOM in a job cannot take lion down with it, and importing this
module costs nothing.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lion_cli.student.launcher import build_argv, job_env, run_job
from lion_cli.student.specs import DPOSpec, GenSpec, LaunchConfig, ScoreSpec, TrainSpec

TRAIN_SCRIPT = "lion_cli.student.scripts.train"
DPO_SCRIPT = "lion_cli.student.scripts.dpo"
GENERATE_SCRIPT = "lion_cli.student.scripts.generate"
SCORE_SCRIPT = "lion_cli.student.scripts.score"


def effective_launch(spec: TrainSpec, launch: LaunchConfig) -> LaunchConfig:
    """DeepSpeed strategies need the deepspeed launcher where the config says torchrun."""
    if spec.uses_deepspeed() and launch.launcher == "torchrun":
        print(f"[lion] strategy {spec.strategy} runs under the deepspeed launcher (config said torchrun)",
              file=sys.stderr, flush=True)
        return dataclasses.replace(launch, launcher="deepspeed")
    return launch


def train(spec: TrainSpec, launch: LaunchConfig, *, on_metric: Callable[[dict[str, Any]], None] | None = None,
          cancel: threading.Event | None = None) -> Path:
    """Write spec.json into output_dir, run the training script, return output_dir/final.

    A checkpoint already in output_dir is resumed from. Raises JobFailed (exit code, log tail, OOM
    named) when the job fails or is cancelled, SpecError (a ValueError) for a spec that cannot work.
    """
    return _run_training(spec, launch, TRAIN_SCRIPT, "train", "training job", on_metric, cancel)


def dpo(spec: DPOSpec, launch: LaunchConfig, *, on_metric: Callable[[dict[str, Any]], None] | None = None,
        cancel: threading.Event | None = None) -> Path:
    """As train(), for the DPO script: preference-tune spec.model_path on the pairs in spec.data_path.
    The reference log-probabilities it stores in output_dir are reused by a resumed job."""
    return _run_training(spec, launch, DPO_SCRIPT, "dpo", "DPO job", on_metric, cancel)


def _run_training(spec: TrainSpec, launch: LaunchConfig, script: str, log_name: str, what: str,
                  on_metric: Callable[[dict[str, Any]], None] | None, cancel: threading.Event | None) -> Path:
    spec.validate(launch.world_size)
    launch = effective_launch(spec, launch)
    # The job runs in output_dir: a relative path in its spec would point somewhere else.
    spec = dataclasses.replace(spec, output_dir=str(Path(spec.output_dir).resolve()))
    logs = Path(spec.output_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    spec.write(spec.spec_path)
    log_path = logs / f"{log_name}-{len(list(logs.glob(f'{log_name}-*.log'))):03d}.log"
    run_job(build_argv(launch, script, ["--spec", str(spec.spec_path)]), cwd=Path(spec.output_dir),
            env=job_env(launch), metrics_path=spec.metrics_path, on_metric=on_metric, cancel=cancel,
            log_path=log_path, what=what)
    if not (spec.final_dir / "config.json").exists():
        raise RuntimeError(f"{what} exited cleanly but wrote no model to {spec.final_dir}; see {log_path}")
    return spec.final_dir


def write_inputs(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write a job's input rows as JSONL (GenSpec / ScoreSpec say what a row holds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_outputs(path: Path) -> dict[Any, dict[str, Any]]:
    """A job's output rows keyed by id (ids keep their JSON type: int stays int)."""
    out: dict[Any, dict[str, Any]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = row
    return out


class _Progress:
    """Folds the ranks' progress lines into (rows done, rows in total) for on_progress."""

    def __init__(self, total: int, callback: Callable[[int, int], None]) -> None:
        self.total, self.callback = total, callback
        self.already: dict[int, int] = {}
        self.done: dict[int, int] = {}
        self.lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        with self.lock:
            rank = int(line.get("rank", 0))
            if line.get("event") == "start":
                self.already[rank] = int(line.get("already", 0))
            elif line.get("event") == "batch":
                self.done[rank] = int(line.get("done", 0))
            finished = sum(self.already.values()) + sum(self.done.values())
        self.callback(finished, self.total)


def generate(spec: GenSpec, launch: LaunchConfig, *, on_progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None, env: dict[str, str] | None = None) -> dict[Any, dict[str, Any]]:
    """Run the generation script for `spec` and return its rows keyed by id.

    Resumable: rows a killed earlier run finished (same settings) are not generated again.
    on_progress(done_rows, total_rows) is called as batches finish. Raises JobFailed when the
    subprocess fails (exit code and stderr tail inside), SpecError for a spec that cannot work."""
    spec.validate()
    with Path(spec.input_path).open(encoding="utf-8") as fh:
        total = sum(1 for line in fh if line.strip())
    out_path = Path(spec.output_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    spec.write(spec.spec_path)
    # Progress lines describe one run; those of an earlier (killed) run would double-count.
    spec.progress_path.unlink(missing_ok=True)
    out_path.unlink(missing_ok=True)  # a stale output must not pass for this run's result
    run_job(build_argv(launch, GENERATE_SCRIPT, ["--spec", str(spec.spec_path)]), cwd=out_path.parent,
            env=job_env(launch, env), metrics_path=spec.progress_path,
            on_metric=_Progress(total, on_progress) if on_progress else None, cancel=cancel,
            log_path=Path(f"{spec.output_path}.log"), what="student generation job")
    return read_outputs(out_path)


def score_options(spec: ScoreSpec, rows: list[dict[str, Any]], launch: LaunchConfig, *,
                  cancel: threading.Event | None = None, env: dict[str, str] | None = None
                  ) -> dict[str, tuple[list[float], list[int]]]:
    """Write `rows` ({id, instruction|prompt, options}) to spec.input_path, run the scoring script, and
    return {str(id): (log-prob sums, token counts)}. Raises JobFailed on failure."""
    spec.validate()
    out = Path(spec.output_path)
    write_inputs(Path(spec.input_path), rows)
    spec.write(spec.spec_path)
    out.unlink(missing_ok=True)  # a stale output must not pass for this run's result
    run_job(build_argv(launch, SCORE_SCRIPT, ["--spec", str(spec.spec_path)]), cwd=out.parent,
            env=job_env(launch, env), cancel=cancel, what="scoring job")
    return {str(k): (row["logprob_sums"], row["token_counts"]) for k, row in read_outputs(out).items()}
