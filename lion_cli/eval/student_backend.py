"""The real model behind eval's callables: the student engine run as a subprocess.

Generation is greedy (temperature 0): a benchmark answer must not depend on a sampling seed.
Each call writes its inputs and outputs under `work_dir`, which a user can inspect afterwards.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lion_cli.eval.protocols import Decoding
    from lion_cli.student.specs import DType, LaunchConfig, PromptFormat


@dataclass
class StudentModel:
    model_path: Path
    work_dir: Path
    launch: LaunchConfig
    prompt_format: PromptFormat = "chat"  # how the student was trained to be asked
    max_new_tokens: int = 64
    batch_size: int = 16
    dtype: DType = "auto"

    def replies(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        """Greedy answers to rows {id, instruction}, keyed by str(id)."""
        from lion_cli.student.jobs import generate, write_inputs
        from lion_cli.student.specs import GenSpec

        self.work_dir.mkdir(parents=True, exist_ok=True)
        inp, out = self.work_dir / "generate-input.jsonl", self.work_dir / "generate-output.jsonl"
        write_inputs(inp, rows)
        spec = GenSpec(model_path=str(self.model_path), input_path=str(inp), output_path=str(out),
                       prompt_format=self.prompt_format, max_new_tokens=self.max_new_tokens, temperature=0.0,
                       batch_size=self.batch_size, dtype=self.dtype)
        got = generate(spec, self.launch, on_progress=_progress("generate"))
        return {str(k): str(v["text"]) for k, v in got.items()}

    def generate(self, rows: list[dict[str, Any]], decoding: Decoding, raw: bool) -> dict[str, str]:
        """Answers to rows {id, prompt} under a protocol's decoding: the prompt as text (raw) or as the
        instruction in the student's layout."""
        from lion_cli.student.jobs import generate, write_inputs
        from lion_cli.student.specs import GenSpec

        self.work_dir.mkdir(parents=True, exist_ok=True)
        inp, out = self.work_dir / "generate-input.jsonl", self.work_dir / "generate-output.jsonl"
        write_inputs(inp, rows if raw else [{"id": r["id"], "instruction": r["prompt"]} for r in rows])
        spec = GenSpec(model_path=str(self.model_path), input_path=str(inp), output_path=str(out),
                       prompt_format="raw" if raw else self.prompt_format, max_new_tokens=decoding.max_new_tokens,
                       temperature=decoding.temperature, top_p=decoding.top_p, top_k=decoding.top_k,
                       base_seed=decoding.seed, stop=list(decoding.stop), batch_size=self.batch_size,
                       dtype=self.dtype)
        got = generate(spec, self.launch, on_progress=_progress("generate"))
        return {str(k): str(v["text"]) for k, v in got.items()}

    def option_scores(self, rows: list[dict[str, Any]], raw: bool = False) -> dict[str, tuple[list[float], list[int]]]:
        """Per-option (log-prob sums, token counts) for rows {id, instruction, options}, or with `raw`
        {id, prompt, options} scored after the prompt text as it is."""
        from lion_cli.student.jobs import score_options
        from lion_cli.student.specs import ScoreSpec

        self.work_dir.mkdir(parents=True, exist_ok=True)
        spec = ScoreSpec(model_path=str(self.model_path), input_path=str(self.work_dir / "score-input.jsonl"),
                         output_path=str(self.work_dir / "score-output.jsonl"),
                         prompt_format="raw" if raw else self.prompt_format, batch_size=self.batch_size,
                         dtype=self.dtype)
        return score_options(spec, rows, self.launch)


def _progress(what: str):  # -> Callable[[int, int], None]
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        if pct // 10 != last[0] // 10 or done == total:
            last[0] = pct
            print(f"{what}: {done}/{total} prompts", file=sys.stderr, flush=True)

    return report
