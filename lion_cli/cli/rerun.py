"""`lion rerun`: do one stage of one iteration again, with what depends on it (pipeline/rerun.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lion_cli.cli.common import Project, err, fail, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

if TYPE_CHECKING:
    from lion_cli.core.types import Stage
    from lion_cli.store.rerun import RerunScope

STAGE_NAMES = ("imitation", "discrimination", "generation")
EXIT_DECLINED, EXIT_BUSY = 1, 4
RERUN_HELP = """Do one stage of one iteration again, after a settings change (a better referee model, another
generator prompt): its rows and everything that depends on them (the later stages of that iteration and
every later iteration) are dropped, and the next `lion resume` goes on from that stage. What is still
valid is kept: the teacher's answers (a changed teacher misses them by itself) and the request cache, so
a request whose model, messages and sampling did not change is answered from it, unpaid; a new referee
model asks again. Asks for confirmation (--yes skips it; without a terminal --yes is required).

Exit codes: 0 done; 1 not confirmed; 2 a bad iteration or stage, or no --yes without a terminal;
4 a run is live on the project."""


def checked_stage(stage_name: str) -> Stage:
    """--stage's value as a Stage; anything else exits 2."""
    from lion_cli.core.types import Stage

    if stage_name not in STAGE_NAMES:
        fail(f"--stage {stage_name!r}: expected imitation, discrimination or generation")
    return Stage(stage_name)


def _scope(project: Project, iteration: int, stage_name: str) -> RerunScope:
    from lion_cli.store.rerun import rerun_scope, stage_status

    stage = checked_stage(stage_name)
    status = stage_status(project.store, iteration, stage)
    if status is None:
        fail(f"--iteration {iteration}: the project has no iteration {iteration} yet (`lion status` shows them)")
    if status == "pending":
        fail(f"iteration {iteration} {stage_name} has not run yet: `lion resume {project.dir}` runs it")
    return rerun_scope(project.store, iteration, stage)


def _confirmed(yes: bool, question: str) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        fail("nothing was changed: without a terminal to confirm on, pass --yes")
    return typer.confirm(question, default=False)


def rerun(directory: Path | None, iteration: int, stage_name: str, yes: bool) -> int:
    from lion_cli.pipeline.rerun import rerun_stage
    from lion_cli.store.lock import LockHeld, acquire
    from lion_cli.store.rerun import kept_counts, rerun_counts

    project = open_project(directory)
    scope = _scope(project, iteration, stage_name)
    try:
        lock = acquire(project.store)
    except LockHeld as exc:
        err(f"error: {exc}")
        return EXIT_BUSY
    try:
        dropped = rerun_counts(project.store, scope)
        kept = kept_counts(project.store, scope)
        retrained = f"; the student of iteration {iteration} is trained again" if scope.first_student == iteration \
            else ""
        err(f"rerun iteration {iteration} {stage_name} (and every stage after it) drops: "
            + ", ".join(f"{n} {what}" for what, n in dropped.items()) + retrained
            + "\n  keeps: " + ", ".join(f"{n} {what}" for what, n in kept.items()))
        if not _confirmed(yes, f"drop them and run iteration {iteration} {stage_name} again?"):
            err("nothing was changed")
            return EXIT_DECLINED
        rerun_stage(project.dir, project.store, scope)
    finally:
        lock.release()
    print(f"iteration {iteration} {stage_name} will run again: `lion resume {project.dir}`")
    return 0


RERUN_EXAMPLES = examples("lion rerun --iteration 0 --stage generation",
                          "lion rerun myproj --iteration 1 --stage discrimination --yes")


def register(app: typer.Typer) -> None:
    @app.command("rerun", help=RERUN_HELP, epilog=RERUN_EXAMPLES)
    def rerun_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        iteration: int = typer.Option(..., "--iteration", min=0, help="The iteration (0 is the first).", metavar="N"),
        stage: str = typer.Option(..., "--stage", help="imitation | discrimination | generation.", metavar="STAGE"),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    ) -> None:
        raise typer.Exit(rerun(chosen_project(directory, project_option), iteration, stage, yes))

