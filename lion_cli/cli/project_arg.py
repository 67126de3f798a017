"""How every command names its project: an optional PROJECT argument, or `-C/--project PATH`, the same
folder either way; neither means the current folder (or the nearest one above it holding lion.toml).
The option is the spelling a script can always use, and the one that reads well beside other arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import fail

PROJECT_RULE = ("Every command names its project the same way: PROJECT, an optional argument, or -C/--project "
                "PATH (both at once must agree, else exit 2); without either, the current folder, or the nearest "
                "one above it holding lion.toml. `init` and `demo` create theirs (default: here; lion-demo).")

PROJECT_ARGUMENT = typer.Argument(None, metavar="PROJECT", show_default=False, help=(
    "Project folder (default: the current folder, or the nearest one above it holding lion.toml)."))

PROJECT_OPTION = typer.Option(None, "--project", "-C", metavar="PATH", show_default=False,
                              help="The project folder, as PROJECT names it (either spelling).")


def new_project_argument(help_text: str) -> Any:
    """PROJECT for a command that makes the project (init, demo): a folder that need not exist yet. Its
    default is applied after `chosen_project`, so `-C PATH` alone is not taken for a second, different name."""
    return typer.Argument(None, metavar="PROJECT", show_default=False, help=help_text)


def chosen_project(positional: Path | None, option: Path | None) -> Path | None:
    """The folder the command was given, by either spelling; None when neither was given. Two that
    name different folders are refused (exit 2) rather than one silently winning."""
    if positional is not None and option is not None and positional.resolve() != option.resolve():
        fail(f"the project is named twice and differently: {positional} and --project {option}")
    return positional if positional is not None else option
