"""`lion db status|migrate`: the store's migration ledger."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import typer

from lion_cli.cli.common import DB_NAME, fail, find_project_dir
from lion_cli.store.db import applied_migrations, available_migrations, migrate

db_app = typer.Typer(help="Inspect and upgrade the project's SQLite store.", no_args_is_help=True)


def _db_path(directory: Path | None) -> Path:
    path = find_project_dir(directory) / DB_NAME
    if not path.exists():
        fail(f"{path}: no lion store here")
    return path


@db_app.command("status")
def status_cmd(directory: Path = typer.Argument(None, help="Project folder."),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """List applied and pending migrations."""
    conn = sqlite3.connect(f"file:{_db_path(directory)}?mode=ro", uri=True)
    done = set(applied_migrations(conn))
    rows = [{"name": m.name, "applied": m.name in done} for m in available_migrations()]
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(f"{'applied' if r['applied'] else 'pending':8} {r['name']}")


@db_app.command("migrate")
def migrate_cmd(directory: Path = typer.Argument(None, help="Project folder.")) -> None:
    """Apply pending migrations (every command does this on open; this only does it)."""
    conn = sqlite3.connect(_db_path(directory), isolation_level=None)
    names = migrate(conn)
    print("\n".join(f"applied {n}" for n in names) or "up to date")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
