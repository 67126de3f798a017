"""The engine's cache, call log and spend meter over the `request_cache` and `api_calls` tables.

Each write is its own short transaction, made on the event loop's thread: a SQLite insert in WAL
mode takes well under a millisecond, far less than any HTTP call, so a worker thread would add
complexity for nothing (and a second connection would serialise on the write lock anyway).
No API key ever reaches these tables: the engine never puts one in a ChatResult or CallRecord.
"""

from __future__ import annotations

from typing import Any

from lion_cli.core.api import CallRecord, ChatResult
from lion_cli.store.db import Store


class StoreCache:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> ChatResult | None:
        row = self.store.conn.execute(
            "SELECT model, text, finish_reason, prompt_tokens, completion_tokens, cost_usd"
            " FROM request_cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return ChatResult(text=row["text"], finish_reason=row["finish_reason"], prompt_tokens=row["prompt_tokens"],
                          completion_tokens=row["completion_tokens"], cost_usd=row["cost_usd"], cached=True,
                          cache_key=key, model=row["model"])

    def put(self, key: str, role: str, result: ChatResult, response_json: str) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO request_cache (key, role, model, response_json, text, finish_reason,"
                " prompt_tokens, completion_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?,?)",
                (key, role, result.model, response_json, result.text, result.finish_reason, result.prompt_tokens,
                 result.completion_tokens, result.cost_usd))


class StoreCallLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, rec: CallRecord) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT INTO api_calls (ts, role, model, base_url, cache_key, status, ok, cached, latency_s,"
                " prompt_tokens, completion_tokens, cost_usd, retries, rate_limited, finish_reason, error)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.ts, rec.role, rec.model, rec.base_url, rec.cache_key, rec.status, int(rec.ok), int(rec.cached),
                 rec.latency_s, rec.prompt_tokens, rec.completion_tokens, rec.cost_usd, rec.retries,
                 rec.rate_limited, rec.finish_reason, rec.error))


class StoreSpend:
    """The dollars spent so far by this project, all runs together. Checked before every paid call,
    so it reads only the rows added since it last looked instead of summing the table each time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last_id = 0
        self._total = 0.0

    def spent_usd(self) -> float:
        row = self.store.conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN cached = 0 THEN cost_usd ELSE 0 END), 0), MAX(id)"
            " FROM api_calls WHERE id > ?", (self._last_id,)).fetchone()
        if row[1] is not None:
            self._total += float(row[0])
            self._last_id = int(row[1])
        return self._total


def usage_by_role(store: Store) -> dict[str, dict[str, Any]]:
    """Per role: logical calls, cache hits, paid tokens in/out, dollars, 429s seen, retries, failures."""
    rows = store.query(
        "SELECT role, COUNT(*) AS calls, SUM(cached) AS cached, SUM(prompt_tokens) AS tin,"
        " SUM(completion_tokens) AS tout, SUM(CASE WHEN cached = 0 THEN cost_usd ELSE 0 END) AS cost,"
        " SUM(rate_limited) AS r429, SUM(retries) AS retries, SUM(1 - ok) AS failed,"
        " SUM(CASE WHEN finish_reason = 'length' THEN 1 ELSE 0 END) AS cut"
        " FROM api_calls GROUP BY role ORDER BY role")
    return {r["role"]: {"calls": r["calls"], "cached": r["cached"] or 0, "prompt_tokens": r["tin"] or 0,
                        "completion_tokens": r["tout"] or 0, "cost_usd": float(r["cost"] or 0.0),
                        "rate_limited": r["r429"] or 0, "retries": r["retries"] or 0, "failed": r["failed"] or 0,
                        "truncated": r["cut"] or 0}
            for r in rows}
