"""The provider_batches table (migration 0015): what llm/batch.py has created at a provider's batch API;
provider_batch_reads (migration 0011): which of them have had their results written into the request cache."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from lion_cli.core.batches import BatchRecord, BatchState
from lion_cli.store.db import Store

_FIELDS = ("input_file_id", "batch_id", "status", "output_file_id", "error_file_id", "completed", "failed")


class StoreBatchLedger:
    """llm/batch.py's BatchLedger over the store: each id is committed the moment it is known."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, chunk_key: str) -> BatchRecord | None:
        rows = self.store.query(f"SELECT chunk_key, {', '.join(_FIELDS)} FROM provider_batches WHERE chunk_key = ?",
                                (chunk_key,))
        return BatchRecord(*rows[0]) if rows else None

    def save(self, record: BatchRecord, role: str, base_url: str, lines: int) -> None:
        values: dict[str, Any] = {name: getattr(record, name) for name in _FIELDS}
        with self.store.tx() as c:
            c.execute(
                f"INSERT INTO provider_batches (chunk_key, role, base_url, lines, updated_at, {', '.join(_FIELDS)})"
                f" VALUES (?, ?, ?, ?, ?, {', '.join('?' for _ in _FIELDS)})"
                f" ON CONFLICT (chunk_key) DO UPDATE SET updated_at = excluded.updated_at, "
                + ", ".join(f"{n} = excluded.{n}" for n in _FIELDS),
                (record.chunk_key, role, base_url, lines, time.time(), *values.values()))

    def unread(self, role: str) -> list[tuple[BatchRecord, str]]:
        """The role's batches created at a provider whose results no run has written yet (oldest first), each
        with the base_url it was created at (its id means something there only)."""
        rows = self.store.query(
            f"SELECT b.base_url, b.chunk_key, {', '.join('b.' + n for n in _FIELDS)} FROM provider_batches b"
            " LEFT JOIN provider_batch_reads r ON r.chunk_key = b.chunk_key"
            " WHERE b.role = ? AND b.batch_id IS NOT NULL AND r.chunk_key IS NULL ORDER BY b.updated_at", (role,))
        return [(BatchRecord(*row[1:]), str(row[0])) for row in rows]

    def is_read(self, chunk_key: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM provider_batch_reads WHERE chunk_key = ?", (chunk_key,)))

    def mark_read(self, chunk_key: str) -> None:
        with self.store.tx() as c:
            c.execute("INSERT OR REPLACE INTO provider_batch_reads (chunk_key, read_at) VALUES (?, ?)",
                      (chunk_key, time.time()))


def batch_states(store: Store, newest: int = 20, role: str | None = None) -> list[BatchState]:
    """The last `newest` batches sent to a provider (of one role, or all), newest first (none in a store
    not migrated yet: the dashboard opens it read-only)."""
    try:
        rows = store.query(
            "SELECT b.role, b.batch_id, b.status, b.lines, b.completed, b.failed, r.chunk_key IS NOT NULL,"
            " b.updated_at FROM provider_batches b LEFT JOIN provider_batch_reads r ON r.chunk_key = b.chunk_key"
            " WHERE ? IS NULL OR b.role = ? ORDER BY b.updated_at DESC LIMIT ?", (role, role, newest))
    except sqlite3.OperationalError:  # no such table
        return []
    return [BatchState(role, batch_id, status, lines, completed, failed, bool(read), updated_at)
            for role, batch_id, status, lines, completed, failed, read, updated_at in rows]
