"""`lion check`: every setting, file, package and key variable of a project, before a run pays for
anything; `lion run` and `lion resume` run the same checks (without the probe) first."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lion_cli.cli.common import EXIT_USAGE, err, find_project_dir
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

if TYPE_CHECKING:
    from lion_cli.preflight import Report


def _print_problems(report: Report) -> None:
    for problem in report.problems:
        err(str(problem))
    for note in report.notes:
        err(f"note: {note}")


def quiet_libraries() -> contextlib.AbstractContextManager[None]:
    """Loading a base model's config and tokenizer imports transformers (and through it DeepSpeed,
    which prints an accelerator warning on stdout): that goes to lion's cache folder's log, not the
    terminal. A project folder is not written by a check."""
    from lion_cli.cli.quiet import library_output
    from lion_cli.preflight.model_cache import cache_dir

    return library_output(cache_dir() / "libraries.log")


def refuse_unless_ready(directory: Path | None) -> None:
    """Exit 2 with one line per problem unless the project passes the offline checks: called before
    anything is sent or written, so a refused run has cost nothing and changed nothing."""
    from lion_cli.preflight import check_project

    with quiet_libraries():
        report = check_project(find_project_dir(directory))
    if not report.ok:
        _print_problems(report)
        err(f"error: {len(report.problems)} problem(s) found before the first request; nothing was sent "
            f"(fix them, then `lion check {report.project_dir}`)")
        raise typer.Exit(EXIT_USAGE)
    for note in report.notes:
        err(f"note: {note}")


def register(app: typer.Typer) -> None:
    @app.command("check", epilog=examples("lion check", "lion check myproj --probe"))
    def check_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        probe: bool = typer.Option(False, "--probe", help="Also ask every endpoint: GET /models (the model is "
                                   "served), one chat request of max_tokens 1, and which shape of JSON schema "
                                   "the referee and generator endpoints take (a note), only when all else passed."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Check a project before running it: settings, files, base model, launcher, key variables.
        Exit 2 with one line per problem (file and key named)."""
        from lion_cli.preflight import check_project

        directory = chosen_project(directory, project_option)
        with quiet_libraries():
            report = check_project(find_project_dir(directory), probe=probe)
        if as_json:
            print(json.dumps(report.as_dict(), indent=2))
        else:
            _print_problems(report)
            if report.ok:
                probed = "; every endpoint answered" if report.probed else " (endpoints not probed: --probe)"
                print(f"ok: {report.project_dir} is ready to run{probed}")
            else:
                err(f"{len(report.problems)} problem(s); nothing was sent")
        raise typer.Exit(0 if report.ok else EXIT_USAGE)
