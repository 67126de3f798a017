"""The `endpoint_state` table: what the running engine is doing with each endpoint (core/aimd.py
EndpointState), written by the engine at most once a second and read by `lion status` and the
dashboard."""

from __future__ import annotations

import sqlite3

from lion_cli.core.aimd import EndpointState
from lion_cli.store.db import Store

_COLUMNS = ("endpoint", "roles", "in_flight", "concurrency_limit", "max_concurrency", "adaptive", "backing_off",
            "paused_s", "completed", "given_up", "latency_s", "best_latency_s", "updated_at")


class StoreEndpointStates:
    """The engine's EndpointStateLog over the store (llm/protocols.py)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, state: EndpointState) -> None:
        values = (state.endpoint, ",".join(state.roles), state.in_flight, state.limit, state.max_limit,
                  int(state.adaptive), state.backing_off, state.paused_s, state.completed, state.given_up,
                  state.latency_s, state.best_latency_s, state.at)
        with self.store.tx() as conn:
            conn.execute(f"INSERT OR REPLACE INTO endpoint_state ({', '.join(_COLUMNS)})"
                         f" VALUES ({', '.join('?' * len(_COLUMNS))})", values)


def endpoint_states(store: Store) -> list[EndpointState]:
    """The latest reading of every endpoint, by name. A store older than migration 0009, opened
    read-only, has none."""
    try:
        rows = store.query(f"SELECT {', '.join(_COLUMNS)} FROM endpoint_state ORDER BY endpoint")
    except sqlite3.OperationalError:  # no such table
        return []
    return [EndpointState(
        endpoint=r["endpoint"], roles=tuple(x for x in r["roles"].split(",") if x), in_flight=r["in_flight"],
        limit=r["concurrency_limit"], max_limit=r["max_concurrency"], adaptive=bool(r["adaptive"]),
        backing_off=r["backing_off"], paused_s=r["paused_s"], completed=r["completed"], given_up=r["given_up"],
        latency_s=r["latency_s"], best_latency_s=r["best_latency_s"], at=r["updated_at"]) for r in rows]
