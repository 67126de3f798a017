"""What the engine needs from its surroundings, and in-memory versions for tests and benchmarks.

The store implements the same protocols over SQLite (lion_cli.store.api_log); the engine never
imports the store, the CLI/pipeline hands it one or the other.
"""

from __future__ import annotations

from typing import Protocol

from lion_cli.core.aimd import EndpointState
from lion_cli.core.api import CallRecord, ChatResult
from lion_cli.core.reply_schemas import KnownShape


class RequestCache(Protocol):
    def get(self, key: str) -> ChatResult | None: ...

    def put(self, key: str, role: str, result: ChatResult, response_json: str) -> None: ...


class CallLog(Protocol):
    def record(self, rec: CallRecord) -> None: ...


class SpendMeter(Protocol):
    def spent_usd(self) -> float: ...


class CapabilityStore(Protocol):
    """What endpoints were found to accept, by (base_url without credentials, model): the shape of
    response_format a JSON schema goes in, "text" for none, None when never probed."""

    def reply_shape(self, base_url: str, model: str) -> KnownShape | None: ...

    def remember_reply_shape(self, base_url: str, model: str, shape: KnownShape, detail: str) -> None: ...


class EndpointStateLog(Protocol):
    """Where the engine reports what it is doing with each endpoint (at most once a second each)."""

    def write(self, state: EndpointState) -> None: ...


class MemoryEndpointStates:
    def __init__(self) -> None:
        self.latest: dict[str, EndpointState] = {}
        self.writes = 0

    def write(self, state: EndpointState) -> None:
        self.latest[state.endpoint] = state
        self.writes += 1


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


class MemoryCapabilities:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[KnownShape, str]] = {}

    def reply_shape(self, base_url: str, model: str) -> KnownShape | None:
        found = self.items.get((base_url, model))
        return None if found is None else found[0]

    def remember_reply_shape(self, base_url: str, model: str, shape: KnownShape, detail: str) -> None:
        self.items[(base_url, model)] = (shape, detail)
