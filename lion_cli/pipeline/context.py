"""Everything a stage needs, passed explicitly (no globals): settings, store, API engine, prompts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lion_cli.config import Settings
from lion_cli.store.db import Store

if TYPE_CHECKING:
    from lion_cli.llm.engine import LLMEngine
    from lion_cli.pipeline.roles import RolePrompts


def settings_hash(payload: dict[str, Any]) -> str:
    """A short stable hash of the settings that shape an answer (model, sampling, prompt text)."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class LoopContext:
    project_dir: Path
    settings: Settings
    store: Store
    engine: LLMEngine
    prompts: RolePrompts
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def students_dir(self) -> Path:
        return self.project_dir / "students"

    def teacher_hash(self) -> str:
        ep = self.settings.teacher
        return settings_hash({"model": ep.model, "temperature": ep.temperature, "top_p": ep.top_p,
                              "max_tokens": ep.max_tokens, "prompt": self.prompts.teacher_source})

    def student_label(self, iteration: int) -> str:
        return f"student-it{iteration}"

    def student_hash(self) -> str:
        g = self.settings.student.generation
        return settings_hash({"temperature": g.temperature, "top_p": g.top_p, "top_k": g.top_k,
                              "max_new_tokens": g.max_new_tokens, "format": self.settings.student.prompt_format,
                              "rng_seed": self.settings.loop.rng_seed})

    def spent(self) -> float:
        return float(self.store.scalar("SELECT COALESCE(SUM(cost_usd), 0) FROM api_calls WHERE cached = 0"))
