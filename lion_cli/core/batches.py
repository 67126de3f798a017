"""A provider's batch API in lion's terms (pure): the lines of a batch, how they are split to the provider's
limits, the key a batch is known by, and what is recorded of it (llm/batch.py sends, store/batch_ledger.py
keeps)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# OpenAI's batch terminal states; the rest (validating, in_progress, finalizing, cancelling) are waited on.
FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch: custom_id maps its answer back to its unit of work."""

    custom_id: str
    body: dict[str, Any]

    def jsonl(self) -> bytes:
        row = {"custom_id": self.custom_id, "method": "POST", "url": "/v1/chat/completions", "body": self.body}
        return (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class BatchLimits:
    """The provider's limits on one batch (OpenAI: 50,000 lines, 200 MB) and how often to poll it."""

    max_lines: int = 50_000
    max_bytes: int = 200 * 1024 * 1024
    poll_s: float = 30.0


@dataclass
class BatchRecord:
    """What is known of one batch, each id as soon as the provider gave it."""

    chunk_key: str
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0


def chunk_key(lines: Sequence[BatchLine]) -> str:
    """The identity of a batch: the same lines are the same batch, on resume too."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.jsonl())
    return digest.hexdigest()[:32]


def split_lines(lines: Sequence[BatchLine], limits: BatchLimits) -> list[list[BatchLine]]:
    """Consecutive chunks of at most max_lines lines and max_bytes bytes each."""
    chunks: list[list[BatchLine]] = []
    size = 0
    for line in lines:
        n = len(line.jsonl())
        if not chunks or len(chunks[-1]) >= limits.max_lines or size + n > limits.max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += n
    return chunks


@dataclass(frozen=True)
class BatchState:
    """One provider batch as `lion status` and the dashboard show it."""

    role: str
    batch_id: str | None
    status: str | None
    lines: int
    completed: int
    failed: int
    read: bool          # its results are in the request cache
    updated_at: float

    def describe(self) -> str:
        where = self.batch_id or "being uploaded"
        state = "results read" if self.read else (self.status or "not created yet")
        return (f"{self.role} batch {where}: {state}, {self.lines:,} lines, {self.completed:,} completed, "
                f"{self.failed:,} failed")
