"""Doing a finished stage again (`lion rerun`): the store drops the stage's rows and what depends on them
(store/rerun.py), and the student answers' and preference stage's work folders of the students trained
again go too: the generation job resumes from the rows it finds there, and a finished DPO run's detail
names the student it started from by its path, which the retrained student has too; neither may be
inherited.
The training folders stay: a checkpoint is resumed only by the job it records (same data, starting
model and settings), so a student trained again on other data starts afresh by itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from lion_cli.pipeline.context import preference_dirs, student_answers_dir
from lion_cli.store.db import Store
from lion_cli.store.rerun import RerunScope, drop_for_rerun


def rerun_stage(project_dir: Path, store: Store, scope: RerunScope) -> list[Path]:
    """Drop what `scope` names; returns the work folders removed."""
    drop_for_rerun(store, scope)
    removed = []
    for k in range(scope.first_student, scope.last_iteration + 1):
        for folder in [student_answers_dir(project_dir, k), *preference_dirs(project_dir, k)]:
            if folder.is_dir():
                shutil.rmtree(folder)
                removed.append(folder)
    store.event(f"iteration {scope.iteration}: {scope.stage.value} set to run again (lion rerun)",
                iteration=scope.iteration, stage=scope.stage.value)
    return removed
