"""The SQLite state store: one file per project, WAL, forward-only named migrations."""

from lion_cli.store.db import Store, open_store

__all__ = ["Store", "open_store"]
