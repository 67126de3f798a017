"""What eval calls for the likelihood mode: option-scoring rows in, per-option log-probs out.

Runs `python -m lion_cli.student.score` (see score.py for the spec) through the launcher as a
subprocess, like generation.py does for answers. Module level imports are stdlib only.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lion_cli.student.launch import LaunchConfig

ENTRY_MODULE = "lion_cli.student.score"


@dataclass
class ScoreSpec:
    """The scoring script's spec; every field is documented in lion_cli/student/score.py."""

    model_path: str
    input_path: str
    output_path: str
    prompt_format: str = "chat"  # alpaca | chat | raw
    batch_size: int = 16
    dtype: str = "auto"

    @property
    def spec_path(self) -> Path:
        return Path(f"{self.output_path}.spec.json")


def score_options(spec: ScoreSpec, rows: list[dict[str, Any]], launch: LaunchConfig, *,
                  cancel: threading.Event | None = None, env: dict[str, str] | None = None
                  ) -> dict[str, tuple[list[float], list[int]]]:
    """Write `rows` ({id, instruction|prompt, options}) to spec.input_path, run the script, and
    return {str(id): (log-prob sums, token counts)}. Raises launch.JobFailed on failure."""
    from lion_cli.student.launch import build_argv, run_job

    inp, out = Path(spec.input_path), Path(spec.output_path)
    inp.parent.mkdir(parents=True, exist_ok=True)
    inp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    spec.spec_path.write_text(json.dumps(asdict(spec), indent=2), encoding="utf-8")
    out.unlink(missing_ok=True)  # a stale output must not pass for this run's result
    child_env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    run_job(build_argv(launch, ENTRY_MODULE, ["--spec", str(spec.spec_path)]), cwd=out.parent, env=child_env,
            cancel=cancel)
    got: dict[str, tuple[list[float], list[int]]] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            got[str(row["id"])] = (row["logprob_sums"], row["token_counts"])
    return got
