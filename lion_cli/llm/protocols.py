"""What the engine needs from its surroundings, and in-memory versions for tests and benchmarks.

The store implements the same protocols over SQLite (lion_cli.store.api_log); the engine never
imports the store, the CLI/pipeline hands it one or the other.
"""

from __future__ import annotations

from typing import Protocol

from lion_cli.core.api import CallRecord, ChatResult


class RequestCache(Protocol):
    def get(self, key: str) -> ChatResult | None: ...

    def put(self, key: str, role: str, result: ChatResult, response_json: str) -> None: ...


class CallLog(Protocol):
    def record(self, rec: CallRecord) -> None: ...


class SpendMeter(Protocol):
    def spent_usd(self) -> float: ...


class MemoryCache:
    def __init__(self) -> None:
        self.items: dict[str, ChatResult] = {}
        self.bodies: dict[str, str] = {}

    def get(self, key: str) -> ChatResult | None:
        return self.items.get(key)

    def put(self, key: str, role: str, result: ChatResult, response_json: str) -> None:
        self.items[key] = result
        self.bodies[key] = response_json


class MemoryCallLog:
    """Keeps the records; doubles as a SpendMeter (the sum of what non-cached calls cost)."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self._spent = 0.0

    def record(self, rec: CallRecord) -> None:
        self.records.append(rec)
        if not rec.cached:
            self._spent += rec.cost_usd

    def spent_usd(self) -> float:
        return self._spent
