"""What the pipeline and the CLI call to fine-tune the student: a TrainSpec, a LaunchConfig, `train()`.

The work happens in a subprocess (`python -m lion_cli.student.train`, under the chosen launcher), so
torch is never imported here and a crash or an OOM in training cannot take lion down with it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lion_cli.student.batching import grad_accum_steps
from lion_cli.student.launch import LaunchConfig, build_argv, run_job

ENTRY_MODULE = "lion_cli.student.train"
STRATEGIES = ("ddp", "fsdp", "zero2", "zero3", "zero3_offload")
DEEPSPEED_STRATEGIES = ("zero2", "zero3", "zero3_offload")


@dataclass
class LoraSpec:
    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class TrainSpec:
    """The training script's spec (documented key by key in lion_cli/student/train.py)."""

    model_path: str
    data_path: str
    output_dir: str
    prompt_format: str = "alpaca"
    epochs: float = 3.0
    lr: float = 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    global_batch_size: int = 128
    per_device_batch_size: int = 4
    max_length: int = 1024
    precision: str = "bf16"
    tf32: bool = True
    gradient_checkpointing: bool = False
    packing: bool = False
    strategy: str = "ddp"
    lora: LoraSpec = field(default_factory=LoraSpec)
    save_steps: int = 200
    save_total_limit: int = 2
    seed: int = 42
    max_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def uses_deepspeed(self) -> bool:
        return self.strategy in DEEPSPEED_STRATEGIES or self.strategy.endswith(".json")

    def check(self, world_size: int) -> None:
        """Fail before launching anything: a ValueError naming the key and what would work."""
        if self.prompt_format not in ("alpaca", "chat"):
            raise ValueError(f"prompt_format {self.prompt_format!r}: expected alpaca or chat")
        if self.precision not in ("bf16", "fp16", "fp32"):
            raise ValueError(f"precision {self.precision!r}: expected bf16, fp16 or fp32")
        if self.strategy not in STRATEGIES and not (self.strategy.endswith(".json") and Path(self.strategy).is_file()):
            raise ValueError(f"strategy {self.strategy!r}: expected one of {', '.join(STRATEGIES)} "
                             "or the path of an existing DeepSpeed .json config")
        if not Path(self.data_path).is_file():
            raise ValueError(f"data_path {self.data_path}: no such file")
        grad_accum_steps(self.global_batch_size, self.per_device_batch_size, world_size)


def subprocess_env(launch: LaunchConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    """The job's environment: lion importable, threads split between the processes of this node."""
    env = dict(os.environ if base is None else base)
    threads = max(1, (os.cpu_count() or 2) // launch.nproc_per_node)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


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
    named) when the job fails or is cancelled, ValueError for a spec that cannot work.
    """
    spec.check(launch.world_size)
    launch = effective_launch(spec, launch)
    out = Path(spec.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "spec.json"
    spec_path.write_text(spec.to_json() + "\n", encoding="utf-8")
    argv = build_argv(launch, ENTRY_MODULE, ["--spec", str(spec_path)])
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / f"train-{len(list(logs.glob('train-*.log'))):03d}.log"
    run_job(argv, cwd=out, env=subprocess_env(launch), metrics_path=out / "metrics.jsonl", on_metric=on_metric,
            cancel=cancel, log_path=log_path)
    final = out / "final"
    if not (final / "config.json").exists():
        raise RuntimeError(f"training exited cleanly but wrote no model to {final}; see {log_path}")
    return final
