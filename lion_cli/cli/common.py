"""Shared CLI plumbing: exit codes, stderr logging, opening a project."""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from lion_cli.config import Settings
    from lion_cli.core.totals import RunPlan
    from lion_cli.store.db import Store

# Kept here (not imported from config) so `lion --help` never builds the pydantic models.
CONFIG_NAME = "lion.toml"
DB_NAME = "lion.db"

EXIT_USAGE = 2


def err(msg: str) -> None:
    """Progress and diagnostics go to stderr; stdout is for results."""
    print(msg, file=sys.stderr, flush=True)


def fail(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    err(f"error: {msg}")
    raise typer.Exit(code)


@dataclass
class Project:
    dir: Path
    settings: Settings
    store: Store

    @property
    def config_path(self) -> Path:
        return self.dir / CONFIG_NAME

    @property
    def plan(self) -> RunPlan:
        """The settings the run's totals are projected with (core/totals.py), with the iterations the
        run plans (core/run_state.py)."""
        from dataclasses import replace

        return replace(settings_plan(self.settings), iterations=self.planned_iterations())

    def planned_iterations(self, requested: int | None = None) -> int:
        """--iterations when given, else what the last run planned while lion.toml still says what it
        said then, else lion.toml's loop.iterations (core/run_state.py)."""
        from lion_cli.core.run_state import planned_iterations
        from lion_cli.store.progress import last_run_iterations

        return planned_iterations(self.settings.loop.iterations, requested, last_run_iterations(self.store))


def settings_plan(settings: Settings) -> RunPlan:
    from lion_cli.core.totals import plan_from_settings

    plan = plan_from_settings(settings.model_dump())
    assert plan is not None  # validated settings always carry the loop's size
    return plan


def project_plan(project_dir: Path) -> RunPlan | None:
    """The plan from a project's lion.toml for the dashboard, so it shows what `lion status` shows;
    None (with a warning) when lion.toml does not load: the dashboard then uses the last run's settings."""
    from lion_cli.config import ConfigError, load_settings

    try:
        return settings_plan(load_settings(project_dir / CONFIG_NAME))
    except ConfigError as exc:
        err(f"warning: {exc}; the dashboard uses the settings the last run recorded")
        return None


def find_project_dir(start: Path | None) -> Path:
    """The folder holding lion.toml: the one given, or the nearest one above the cwd."""
    if start is not None:
        return start.resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_NAME).exists():
            return d
    return here


def open_project(directory: Path | None, *, readonly: bool = False) -> Project:
    from lion_cli.config import ConfigError, load_settings
    from lion_cli.store.db import applied_migrations, available_migrations, open_store

    d = find_project_dir(directory)
    try:
        settings = load_settings(d / CONFIG_NAME)
    except ConfigError as exc:
        fail(str(exc))
    db = d / DB_NAME
    if not db.exists():
        fail(f"{db}: no store here (run `lion init {d}` first)")
    try:
        store = open_store(db, readonly=readonly)
        applied = applied_migrations(store.conn)  # reads the file: one that is not SQLite fails here
    except sqlite3.DatabaseError as exc:  # `lion check` says more
        fail(f"{db}: not a readable lion store ({exc})")
    if readonly:  # a read-only command never migrates; a store an older lion wrote lacks tables it reads
        pending = [m.name for m in available_migrations() if m.name not in set(applied)]
        if pending:
            store.close()
            fail(f"{db}: written by an older lion ({len(pending)} store upgrade(s) not applied: "
                 f"{', '.join(pending)}); run `lion db migrate {d}` (or `lion resume {d}`, which upgrades it), "
                 "then this command again")
    return Project(d, settings, store)
