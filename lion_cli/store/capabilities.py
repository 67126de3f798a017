"""What endpoints were found to accept (the engine's CapabilityStore), over `endpoint_capabilities`
(migration 0008): remembered per (base_url, model) across runs, so an endpoint is probed once."""

from __future__ import annotations

from lion_cli.store.db import Store


class StoreCapabilities:
    def __init__(self, store: Store) -> None:
        self.store = store

    def structured(self, base_url: str, model: str) -> bool | None:
        row = self.store.conn.execute(
            "SELECT structured FROM endpoint_capabilities WHERE base_url = ? AND model = ?",
            (base_url, model)).fetchone()
        return None if row is None else bool(row[0])

    def remember_structured(self, base_url: str, model: str, accepted: bool, detail: str) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT INTO endpoint_capabilities (base_url, model, structured, detail) VALUES (?,?,?,?)"
                " ON CONFLICT (base_url, model) DO UPDATE SET structured = excluded.structured,"
                " detail = excluded.detail, probed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (base_url, model, int(accepted), detail[:500]))
