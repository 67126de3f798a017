"""`lion retry-failed`: clear the marks of items whose request failed for good (store/failures.py), so
that they are sent again after a change that lets them through."""

from __future__ import annotations

from pathlib import Path

import typer

from lion_cli.cli.common import err, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project
from lion_cli.cli.rerun import checked_stage

RETRY_HELP = """Send again the items a request failed for good (an HTTP 400 such as context_length_exceeded,
413, 422, a content filter): after the change that lets them through (a larger context, a shorter prompt,
another model), this clears their failure marks. It sends nothing itself: the next `lion resume` sends
them wherever the loop still needs them (a teacher answer refused in imitation is asked again when
discrimination asks the teacher for the Cache Pool). A stage that has already finished without them
stays as it is; `lion rerun --iteration N --stage S` does it again with them (generator slots are asked
again only that way), reusing every answer already paid for."""


def _next_steps(project_dir: Path, cleared: list[tuple[int, str]], done: set[tuple[int, str]]) -> list[str]:
    lines = []
    for iteration, stage in sorted(set(cleared)):
        if (iteration, stage) in done:
            lines.append(f"  iteration {iteration} {stage} finished without them: `lion rerun {project_dir} "
                         f"--iteration {iteration} --stage {stage}` does it again with them")
    lines.append(f"  next: `lion resume {project_dir}` sends them where the loop still needs them")
    return lines


def retry_failed(directory: Path | None, stage: str | None, iteration: int | None) -> int:
    from lion_cli.core.types import StageStatus
    from lion_cli.store.failures import clear_failures
    from lion_cli.store.progress import all_stages

    if stage is not None:
        checked_stage(stage)
    project = open_project(directory)
    cleared = clear_failures(project.store, iteration, stage)
    if not cleared:
        print("no failed items" + (" there" if stage or iteration is not None else ""))
        return 0
    print(f"cleared {len(cleared)} failed item(s)")
    done = {(r.iteration, r.stage.value) for r in all_stages(project.store) if r.status is StageStatus.DONE}
    err("\n".join([f"  it{f.iteration} {f.stage} {f.role} {f.item_key}: {f.reason[:160]}" for f in cleared]
                   + _next_steps(project.dir, [(f.iteration, f.stage) for f in cleared], done)))
    return 0


def register(app: typer.Typer) -> None:
    @app.command("retry-failed", help=RETRY_HELP, epilog=examples(
        "lion retry-failed", "lion retry-failed myproj --stage discrimination --iteration 0"))
    def retry_failed_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        stage: str = typer.Option(None, "--stage", help="Only this stage's: imitation|discrimination|generation.",
                                  metavar="STAGE"),
        iteration: int = typer.Option(None, "--iteration", min=0, help="Only this iteration's.", metavar="N"),
    ) -> None:
        raise typer.Exit(retry_failed(chosen_project(directory, project_option), stage, iteration))
