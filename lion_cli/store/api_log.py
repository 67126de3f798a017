"""The engine's cache, call log and spend meter over the `request_cache` and `api_calls` tables.

Each write is its own short transaction, made on the event loop's thread: a SQLite insert in WAL
mode takes well under a millisecond, far less than any HTTP call, so a worker thread would add
complexity for nothing (and a second connection would serialise on the write lock anyway).
No API key ever reaches these tables: the engine never puts one in a ChatResult or CallRecord.
"""

from __future__ import annotations

from lion_cli.core.api import CallRecord, ChatResult
from lion_cli.store.db import Store
from lion_cli.store.totals import spent_usd


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
                " prompt_tokens, completion_tokens, cost_usd, retries, rate_limited, finish_reason, error,"
                " reserved_tokens, attempt, final, possibly_billed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.ts, rec.role, rec.model, rec.base_url, rec.cache_key or None, rec.status, int(rec.ok),
                 int(rec.cached), rec.latency_s, rec.prompt_tokens, rec.completion_tokens, rec.cost_usd, rec.retries,
                 rec.rate_limited, rec.finish_reason, rec.error, rec.reserved_tokens, rec.attempt, int(rec.final),
                 int(rec.possibly_billed)))


class StoreSpend:
    """The dollars spent so far by this project, all runs together; checked before every paid call.
    It reads the trigger-kept per-role totals (store/totals.py): a handful of rows, however long the run."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def spent_usd(self) -> float:
        return spent_usd(self.store)
