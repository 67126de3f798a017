"""The keys a stored answer is found by: who wrote it (the teacher's model name, or the student's
per-iteration label) and a short hash of the settings that shape it.

An answer is reused exactly when its key matches, so the loop, `lion student generate`,
`lion eval` and `lion export data` must all compute the same keys; they all come from here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


def settings_hash(payload: dict[str, Any]) -> str:
    """A short stable hash of the settings that shape an answer (model, sampling, prompt text)."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def student_label(iteration: int) -> str:
    """The name a student's answers and evaluation results are stored under."""
    return f"student-it{iteration}"


def teacher_hash(*, model: str, temperature: float, top_p: float, max_tokens: int, prompt_source: str) -> str:
    return settings_hash({"model": model, "temperature": temperature, "top_p": top_p,
                          "max_tokens": max_tokens, "prompt": prompt_source})


def student_hash(*, temperature: float, top_p: float, top_k: int, max_new_tokens: int, prompt_format: str,
                 rng_seed: int) -> str:
    return settings_hash({"temperature": temperature, "top_p": top_p, "top_k": top_k,
                          "max_new_tokens": max_new_tokens, "format": prompt_format, "rng_seed": rng_seed})


@dataclass(frozen=True, slots=True)
class AnswerKeys:
    """A project's keys under its current settings."""

    teacher_model: str
    teacher_hash: str
    student_hash: str

    def student_label(self, iteration: int) -> str:
        return student_label(iteration)
