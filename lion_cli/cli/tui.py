"""`lion tui [DIR]`: the live dashboard on a project (running, stopped or finished)."""

from __future__ import annotations

from pathlib import Path

import typer

from lion_cli.cli.common import DB_NAME, fail, find_project_dir, project_plan
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

# The dashboard's panels (lion_cli/tui/app.py PANELS), named here so `lion --help` imports no Textual.
PANEL_IDS = ("api", "training", "discrimination", "generation", "evaluation", "log")


def register(app: typer.Typer) -> None:
    @app.command("tui", epilog=examples("lion tui", "lion tui myproj --screenshot frame.svg --panel training"))
    def tui_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        screenshot: Path = typer.Option(None, "--screenshot", help="Save one frame as SVG to this file and exit.",
                                        metavar="PATH"),
        panel: str = typer.Option("api", "--panel", help="The panel --screenshot shows: " + ", ".join(PANEL_IDS),
                                  metavar="PANEL"),
    ) -> None:
        """Watch a project live: stages, API use and cost, training loss, hard/easy split, new instructions."""
        d = find_project_dir(chosen_project(directory, project_option))
        if not d.is_dir():
            fail(f"{d}: no such folder")
        if not (d / DB_NAME).exists():
            fail(f"{d / DB_NAME}: no store here (run `lion init {d}` first)")
        if panel not in PANEL_IDS:
            fail(f"--panel {panel!r}: expected one of {', '.join(PANEL_IDS)}")
        if screenshot is not None:
            from lion_cli.tui.app import export_screenshot

            print(export_screenshot(d, screenshot, panel=panel, plan=project_plan(d)))
            return
        from lion_cli.tui.app import run_dashboard

        run_dashboard(d, plan=project_plan(d))
