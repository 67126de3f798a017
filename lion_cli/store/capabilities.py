"""What endpoints were found to accept (the engine's CapabilityStore), over `endpoint_capabilities`
(migrations 0008, 0012): remembered per (base_url, model) across runs, so an endpoint is probed once.
`reply_shape` is the shape of response_format it answered under, or 'text'; `structured` says whether
it took one at all."""

from __future__ import annotations

from lion_cli.core.reply_schemas import REPLY_SHAPES, KnownShape
from lion_cli.store.db import Store

_KNOWN: tuple[str, ...] = (*REPLY_SHAPES, "text")


class StoreCapabilities:
    def __init__(self, store: Store) -> None:
        self.store = store

    def reply_shape(self, base_url: str, model: str) -> KnownShape | None:
        row = self.store.conn.execute(
            "SELECT reply_shape FROM endpoint_capabilities WHERE base_url = ? AND model = ?",
            (base_url, model)).fetchone()
        return row[0] if row is not None and row[0] in _KNOWN else None

    def remember_reply_shape(self, base_url: str, model: str, shape: KnownShape, detail: str) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT INTO endpoint_capabilities (base_url, model, structured, reply_shape, detail)"
                " VALUES (?,?,?,?,?) ON CONFLICT (base_url, model) DO UPDATE SET structured = excluded.structured,"
                " reply_shape = excluded.reply_shape, detail = excluded.detail,"
                " probed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (base_url, model, int(shape != "text"), shape, detail[:500]))
