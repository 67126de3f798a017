"""Everything a stage needs, passed explicitly (no globals): settings, store, API engine, prompts
and the keys answers are stored under. The CLI builds it (lion_cli/cli/wiring.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lion_cli.config import Settings
from lion_cli.core.answer_keys import AnswerKeys
from lion_cli.core.role_prompts import RolePrompts
from lion_cli.store.db import Store
from lion_cli.store.totals import spent_usd

if TYPE_CHECKING:
    from lion_cli.llm.engine import LLMEngine


def student_answers_dir(project_dir: Path, iteration: int) -> Path:
    """Where the discrimination stage's student generation job works (and finds its finished rows)."""
    return project_dir / "students" / f"iter-{iteration}" / "answers"


ONLINE_ROUND_PREFIX = "online-"   # an online DPO round's work folder: online-1, online-2, ...


def judged_dpo_dir(students_dir: Path, iteration: int) -> Path:
    """The work folder of an iteration's DPO on the referee's judgements."""
    return students_dir / f"iter-{iteration}" / "preference"


def online_round_dir(students_dir: Path, iteration: int, round_no: int) -> Path:
    return students_dir / f"iter-{iteration}" / f"{ONLINE_ROUND_PREFIX}{round_no}"


def preference_dirs(project_dir: Path, iteration: int) -> list[Path]:
    """The preference stage's work folders of an iteration (judged DPO, online rounds): each holds the
    finished run's detail, which names the student it started from."""
    students = project_dir / "students"
    judged = judged_dpo_dir(students, iteration)
    rounds = judged.parent.glob(f"{ONLINE_ROUND_PREFIX}*")
    return sorted(d for d in [judged, *rounds] if d.is_dir())


@dataclass
class LoopContext:
    project_dir: Path
    settings: Settings
    store: Store
    engine: LLMEngine
    prompts: RolePrompts
    keys: AnswerKeys

    @property
    def students_dir(self) -> Path:
        return self.project_dir / "students"

    def spent(self) -> float:
        return spent_usd(self.store)
