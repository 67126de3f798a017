"""The provider_batches table (migration 0015): what llm/batch.py has created at a provider's batch API."""

from __future__ import annotations

import time
from typing import Any

from lion_cli.core.batches import BatchRecord
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
