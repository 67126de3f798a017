"""What the pipeline and the CLI call to make the student answer: a spec in, rows out.

Runs `python -m lion_cli.student.generate` through the launcher (task B's launch.py) as a subprocess
(plain python, torchrun for data parallel, ...) and reads its JSONL output. Module level imports
are stdlib only (the launcher is imported in the function), so importing this costs nothing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lion_cli.student.launch import LaunchConfig

ENTRY_MODULE = "lion_cli.student.generate"


@dataclass
class GenSpec:
    """The generation script's spec; every field is documented in lion_cli/student/generate.py."""

    model_path: str
    input_path: str
    output_path: str
    prompt_format: str = "alpaca"  # alpaca | chat | raw | chat_raw
    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    batch_size: int = 16
    base_seed: int = 0
    backend: str = "hf"  # hf | vllm
    dtype: str = "auto"  # auto | fp32 | bf16 | fp16

    def to_json(self) -> str:
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}, indent=2)

    @property
    def spec_path(self) -> Path:
        return Path(f"{self.output_path}.spec.json")

    @property
    def progress_path(self) -> Path:
        return Path(f"{self.output_path}.progress.jsonl")


def write_inputs(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write generation input rows ({id, instruction, input?, seed?} or {id, prompt, seed?}) as JSONL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_outputs(path: Path) -> dict[Any, dict[str, Any]]:
    """The output rows keyed by id (ids keep their JSON type: int stays int)."""
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


def generate(
    spec: GenSpec,
    launch: LaunchConfig,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> dict[Any, dict[str, Any]]:
    """Run the generation script for `spec` and return its rows keyed by id.

    Resumable: rows a killed earlier run finished (same settings) are not generated again.
    on_progress(done_rows, total_rows) is called as batches finish. Raises launch.JobFailed when
    the subprocess fails (exit code and stderr tail inside)."""
    from lion_cli.student.launch import build_argv, run_job

    with Path(spec.input_path).open(encoding="utf-8") as fh:
        total = sum(1 for line in fh if line.strip())
    out_path = Path(spec.output_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    spec.spec_path.write_text(spec.to_json(), encoding="utf-8")
    # Progress lines describe one run; those of an earlier (killed) run would double-count.
    spec.progress_path.unlink(missing_ok=True)
    if out_path.exists():
        out_path.unlink()  # a stale output must not pass for this run's result

    child_env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    argv = build_argv(launch, ENTRY_MODULE, ["--spec", str(spec.spec_path)])
    run_job(argv, cwd=out_path.parent, env=child_env, metrics_path=spec.progress_path,
            on_metric=_Progress(total, on_progress) if on_progress else None, cancel=cancel,
            log_path=Path(f"{spec.output_path}.log"))
    return read_outputs(out_path)
