"""Which model an evaluation runs on: a folder given by the user, or a project iteration's student.

The label is what results are stored under (eval_results.model): `student-it<N>` for an iteration
(the same label the loop uses for the student's answers), the resolved folder path otherwise, so
evaluating the same model twice replaces its row instead of adding a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lion_cli.core.answer_keys import student_label
from lion_cli.store.db import Store
from lion_cli.store.eval_targets import iterations_with_student
from lion_cli.store.progress import student_path


class TargetError(ValueError):
    """No such model or iteration; the message names what is missing."""


@dataclass(frozen=True, slots=True)
class EvalTarget:
    label: str
    path: Path
    iteration: int | None


def model_target(path: Path) -> EvalTarget:
    path = path.expanduser().resolve()
    if not (path / "config.json").is_file():
        raise TargetError(f"--model {path}: not a model folder (no config.json)")
    return EvalTarget(str(path), path, None)


def iteration_target(store: Store, iteration: int) -> EvalTarget:
    found = student_path(store, iteration)
    if not found or not (Path(found) / "config.json").is_file():
        raise TargetError(f"--iteration {iteration}: this project has no trained student for iteration "
                          f"{iteration} (see `lion status`)")
    return EvalTarget(student_label(iteration), Path(found), iteration)


def all_iteration_targets(store: Store) -> list[EvalTarget]:
    """Every iteration whose student exists, in order (the learning curve's x axis)."""
    targets = []
    for iteration in iterations_with_student(store):
        try:
            targets.append(iteration_target(store, iteration))
        except TargetError:
            continue  # a student folder deleted by hand: leave it out of the curve
    if not targets:
        raise TargetError("--all-iterations: this project has no trained student yet (see `lion status`)")
    return targets
