"""`lion db status|migrate`: the store's migration ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer

from lion_cli.cli.common import DB_NAME, fail, find_project_dir
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

if TYPE_CHECKING:
    from lion_cli.store.db import Store

T = TypeVar("T")

db_app = typer.Typer(help="Inspect and upgrade the project's SQLite store.", no_args_is_help=True,
                     rich_markup_mode=None, epilog=examples("lion db status --tables", "lion db migrate myproj"))


def _db_path(directory: Path | None) -> Path:
    path = find_project_dir(directory) / DB_NAME
    if not path.exists():
        fail(f"{path}: no lion store here")
    return path


def migration_rows(path: Path) -> list[dict[str, object]]:
    """Every known migration with applied true/false, then any step the ledger holds that this
    lion does not know (written by a newer version) with applied true and unknown true."""
    from lion_cli.store.db import applied_migrations, available_migrations

    done = _read_store(path, lambda store: applied_migrations(store.conn))
    known = [m.name for m in available_migrations()]
    rows: list[dict[str, object]] = [{"name": n, "applied": n in done} for n in known]
    rows += [{"name": n, "applied": True, "unknown": True} for n in done if n not in known]
    return rows


def _read_store(path: Path, read: Callable[[Store], T]) -> T:
    import sqlite3

    from lion_cli.store.db import Store, connect

    try:
        conn = connect(path, readonly=True)
        try:
            return read(Store(conn, path))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        fail(f"{path}: not a readable lion store ({exc})")


@db_app.command("status", epilog=examples("lion db status", "lion db status myproj --tables"))
def status_cmd(directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
               as_json: bool = typer.Option(False, "--json"),
               tables: bool = typer.Option(False, "--tables", help="List the tables with their row counts instead.")
               ) -> None:
    """List applied and pending migrations (or, with --tables, the store's tables)."""
    path = _db_path(chosen_project(directory, project_option))
    if tables:
        from lion_cli.store.db import table_sizes

        sizes = _read_store(path, table_sizes)
        print(json.dumps(sizes) if as_json else "\n".join(
            f"{t['name']:<20} {t['rows']:>12,} rows  {t['columns']:>3} columns" for t in sizes))
        return
    rows = migration_rows(path)
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        state = "unknown" if r.get("unknown") else "applied" if r["applied"] else "pending"
        print(f"{state:8} {r['name']}")


@db_app.command("migrate", epilog=examples("lion db migrate", "lion db migrate myproj"))
def migrate_cmd(directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION) -> None:
    """Apply pending migrations (every command does this on open; this only does it)."""
    import sqlite3

    from lion_cli.store.db import connect, migrate

    path = _db_path(chosen_project(directory, project_option))
    try:
        conn = connect(path)
        try:
            names = migrate(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        fail(f"{path}: migration failed, nothing of the failing step was applied ({exc})")
    print("\n".join(f"applied {n}" for n in names) or "up to date")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
