"""The option-scoring job's spec (scripts/score.py reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lion_cli.student.specs.base import POSITIVE, Limit, Spec
from lion_cli.student.specs.choices import DType, ScorePromptFormat


@dataclass
class ScoreSpec(Spec):
    """The option-scoring script's spec (scripts/score.py): the log-probability of each option as the
    prompt's continuation. Input rows {id, instruction | prompt, options: [str]}; output rows, in input
    order, {id, logprob_sums: [float], token_counts: [int]}, one entry per option."""

    model_path: str
    input_path: str
    output_path: str
    prompt_format: ScorePromptFormat = "chat"
    batch_size: int = 16  # (prompt, option) sequences per forward pass
    dtype: DType = "auto"

    limits: ClassVar[dict[str, Limit]] = {"batch_size": POSITIVE}

    @property
    def spec_path(self) -> Path:
        return Path(f"{self.output_path}.spec.json")
