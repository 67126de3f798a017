"""Whether a project's lion.db can be used, found out without writing to it (for `lion check`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lion_cli.store.db import applied_migrations, available_migrations, connect


def stored_seed_count(path: Path) -> int:
    """The seed instructions the store at `path` holds; 0 when it has none or cannot be read."""
    try:
        conn = connect(path, readonly=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM instructions WHERE origin = 'seed'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def store_problems(path: Path) -> list[str]:
    """What stops this file from being a project's store; [] when it is one."""
    if not path.exists():
        return ["not found (run `lion init` to create the project)"]
    if not path.is_file():
        return ["not a file"]
    try:
        conn = connect(path, readonly=True)
        try:
            # quick_check(1): the first fault is enough to refuse, and it reads far less than integrity_check.
            verdict = str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
            applied = applied_migrations(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [f"not a readable SQLite database ({exc})"]
    if verdict != "ok":
        return [f"damaged ({verdict}); restore it from a copy"]
    if not applied:
        return ["not a lion store (no migration ledger; create the project with `lion init`)"]
    unknown = sorted(set(applied) - {m.name for m in available_migrations()})
    if unknown:
        return [f"written by a newer lion (migrations {', '.join(unknown)} are unknown here); upgrade lion"]
    return []
