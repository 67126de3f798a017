"""The generation job's spec (scripts/generate.py reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from lion_cli.student.specs.base import NOT_NEGATIVE, POSITIVE, TOP_P, Limit, Spec
from lion_cli.student.specs.choices import DType, GenBackend, GenPromptFormat
from lion_cli.student.specs.train import TrainSpec


@dataclass
class GenSpec(Spec):
    """The generation script's spec (scripts/generate.py): the student's answers to JSONL rows.

    Input rows by prompt_format: alpaca / chat {id, instruction, input?, seed?}; raw {id, prompt,
    seed?}; chat_raw {id, prompt, seed?} or {id, messages, seed?}. Output rows, in input order:
    {id, text, finish_reason: "stop" | "length", prompt_tokens, completion_tokens, seed}."""

    model_path: str
    input_path: str
    output_path: str
    # Asked in the layout training uses by default: the student sees questions in the shape it learnt.
    prompt_format: GenPromptFormat = TrainSpec.prompt_format
    max_new_tokens: int = 1024
    temperature: float = 0.7  # 0 = greedy
    top_p: float = 1.0  # 1.0 = off
    top_k: int = 0  # 0 = off
    batch_size: int = 16  # rows decoded together
    base_seed: int = 0  # a row without its own seed gets derive_seed(base_seed, str(id))
    backend: GenBackend = "hf"  # vllm only where it imports
    dtype: DType = "auto"
    # Text that ends an answer where it first appears (cut off, not returned), beside the EOS token:
    # benchmark protocols that stop on "Q:" as lm-evaluation-harness does.
    stop: list[str] = field(default_factory=list)

    limits: ClassVar[dict[str, Limit]] = {"max_new_tokens": POSITIVE, "temperature": NOT_NEGATIVE, "top_p": TOP_P,
                                          "top_k": NOT_NEGATIVE, "batch_size": POSITIVE}

    @property
    def spec_path(self) -> Path:
        return Path(f"{self.output_path}.spec.json")

    @property
    def progress_path(self) -> Path:
        """JSONL progress lines: {"event": "start", rank, shard, already}, then {"event": "batch", rank,
        rows, done, new_tokens} per batch (done = rows this rank finished in this run)."""
        return Path(f"{self.output_path}.progress.jsonl")

    @property
    def parts_dir(self) -> Path:
        """Each rank's finished rows, one folder per settings hash (a resumed run reuses them)."""
        return Path(f"{self.output_path}.parts")
