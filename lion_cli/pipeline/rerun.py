"""Doing a finished stage again (`lion rerun`): the store drops the stage's rows and what depends on them
(store/rerun.py), and the student answers' work folders of the students trained again go too: the
generation job resumes from the rows it finds there, which a retrained student must not inherit.
The training folders stay: a checkpoint is resumed only by the job it records (same data, starting
model and settings), so a student trained again on other data starts afresh by itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from lion_cli.pipeline.context import student_answers_dir
from lion_cli.store.db import Store
from lion_cli.store.rerun import RerunScope, drop_for_rerun


def rerun_stage(project_dir: Path, store: Store, scope: RerunScope) -> list[Path]:
    """Drop what `scope` names; returns the work folders removed."""
    drop_for_rerun(store, scope)
    removed = []
    for k in range(scope.first_student, scope.last_iteration + 1):
        answers = student_answers_dir(project_dir, k)
        if answers.is_dir():
            shutil.rmtree(answers)
            removed.append(answers)
    store.event(f"iteration {scope.iteration}: {scope.stage.value} set to run again (lion rerun)",
                iteration=scope.iteration, stage=scope.stage.value)
    return removed
