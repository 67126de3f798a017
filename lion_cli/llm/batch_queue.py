"""The roles in batch mode: each chat() that misses the request cache waits here until the role's calls stop
coming (the stage has asked for everything it can ask for now); then they go out as batches through
llm/batch.py, and each answer is stored as an online answer is (the engine's request cache and api_calls, at
the batch prices) and handed to its caller, so a stage reads it exactly as it reads an online one.

Before anything new is sent, the batches an earlier run left unread (killed while it waited on them or read
them) are waited on and read, and their answers stored, so a resume never pays for a line twice. A line that
failed or expired is sent again: in the next batch (at most max_retries times), or online by the engine
(batch_resend = "online")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from lion_cli.core.api import ChatResult, EndpointSpec, estimate_prompt_tokens
from lion_cli.core.batches import BatchLimits, BatchLine, BatchRecord
from lion_cli.core.value_checks import shown_url
from lion_cli.llm.batch import BatchLedger, BatchRunner
from lion_cli.llm.errors import ApiError, BudgetExceeded

log = logging.getLogger("lion.llm")

GATHER_S = 0.2   # a role's calls are gathered until none has come for this long

# (role, spec, request key, chat completion body) → the answer as stored, or None when the body is none
StoreAnswer = Callable[[str, EndpointSpec, str, dict[str, Any]], ChatResult | None]
# () → (spent so far, max_usd; 0: no cap), read before each batch is submitted
Budget = Callable[[], tuple[float, float]]


class LineFailed(Exception):
    """A batch line that failed or expired, for the engine to send online (batch_resend = "online")."""


def custom_id(role: str, sample_index: int, key: str) -> str:
    """A line's name at the provider: the role and sample first (the scripted server reads both), then the
    request key, so an answer found in any batch maps back to the one request it answers."""
    return f"{role}:{sample_index}:{key}"


@dataclass
class _Waiting:
    line: BatchLine
    key: str
    future: asyncio.Future[ChatResult]
    estimate_usd: float = 0.0   # at most what the line can cost: its prompt estimate + max_tokens, at batch prices
    sends: int = 0


class MemoryBatchLedger:
    """A BatchLedger in memory (an engine without a store: tests, one-off calls)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[BatchRecord, str, str]] = {}   # chunk key → (record, role, base_url)
        self.read: set[str] = set()

    def get(self, chunk_key: str) -> BatchRecord | None:
        return self.records[chunk_key][0] if chunk_key in self.records else None

    def save(self, record: BatchRecord, role: str, base_url: str, lines: int) -> None:
        self.records[record.chunk_key] = (record, role, base_url)

    def unread(self, role: str) -> list[tuple[BatchRecord, str]]:
        return [(r, url) for r, owner, url in self.records.values()
                if owner == role and r.batch_id and r.chunk_key not in self.read]

    def mark_read(self, chunk_key: str) -> None:
        self.read.add(chunk_key)

    def is_read(self, chunk_key: str) -> bool:
        return chunk_key in self.read


class BatchQueue:
    """One per engine; each role in batch mode has its waiting lines here and one task sending them."""

    def __init__(self, ledger: BatchLedger, client: Callable[[], httpx.AsyncClient], store_answer: StoreAnswer,
                 gather_s: float = GATHER_S, budget: Budget = lambda: (0.0, 0.0)) -> None:
        self.ledger, self.client, self.store_answer, self.gather_s = ledger, client, store_answer, gather_s
        self.budget = budget
        self.waiting: dict[str, dict[str, _Waiting]] = {}
        self.drains: dict[str, asyncio.Task[None]] = {}
        self.warned: set[str] = set()   # the roles whose batches of another endpoint have been named

    async def answer(self, role: str, spec: EndpointSpec, key: str, body: dict[str, Any], sample_index: int,
                     headers: dict[str, str]) -> ChatResult:
        future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
        name = custom_id(role, sample_index, key)
        # The estimate the online path reserves with (prompt estimate + max_tokens), priced as a batch line.
        estimate = spec.batch_prices.cost(estimate_prompt_tokens(body["messages"]), int(body["max_tokens"]))
        self.waiting.setdefault(role, {})[name] = _Waiting(BatchLine(name, body), key, future, estimate)
        drain = self.drains.get(role)
        if drain is None or drain.done():
            self.drains[role] = asyncio.create_task(self._drain(role, spec, headers))
        return await future

    async def aclose(self) -> None:
        for task in self.drains.values():
            task.cancel()
        await asyncio.gather(*self.drains.values(), return_exceptions=True)
        self.drains.clear()

    async def _gathered(self, waiting: dict[str, _Waiting]) -> None:
        """Returns once no line has joined for gather_s."""
        seen = -1
        while len(waiting) != seen:
            seen = len(waiting)
            await asyncio.sleep(self.gather_s)

    async def _drain(self, role: str, spec: EndpointSpec, headers: dict[str, str]) -> None:
        waiting = self.waiting[role]
        runner = BatchRunner(self.client(), spec.base_url, self.ledger, BatchLimits(poll_s=spec.batch_poll_s),
                             headers, spec.batch_completion_window)
        try:
            await self._gathered(waiting)
            for record in self._unread_here(role, runner.base_url):
                await self._read_earlier(role, spec, runner, record)
            while waiting:
                await self._gathered(waiting)
                outcome = await runner.run(role, [w.line for w in self._within_budget(waiting)])
                self._settle(role, spec, waiting, outcome.answers, outcome.failed)
                for record in outcome.batches:
                    self.ledger.mark_read(record.chunk_key)
        except Exception as exc:
            error = ApiError(f"{role} ({spec.model} at {shown_url(spec.base_url)}) batch: {exc}", role=role)
            for w in waiting.values():
                if not w.future.done():
                    w.future.set_exception(error)
            waiting.clear()

    def _within_budget(self, waiting: dict[str, _Waiting]) -> list[_Waiting]:
        """The waiting lines (in custom_id order) whose estimates fit under what is left of max_usd; the rest
        fail with BudgetExceeded, as an online call past the cap does (a whole batch is paid at once)."""
        spent, max_usd = self.budget()
        fitting: list[_Waiting] = []
        planned = spent
        for name in sorted(waiting):
            w = waiting[name]
            if max_usd <= 0 or planned + w.estimate_usd <= max_usd:
                planned += w.estimate_usd
                fitting.append(w)
                continue
            del waiting[name]
            if not w.future.done():
                w.future.set_exception(BudgetExceeded(spent, max_usd))
        return fitting

    def _unread_here(self, role: str, base_url: str) -> list[BatchRecord]:
        """The role's unread batches created at `base_url`. Those of another endpoint (base_url changed since)
        are left unread and named once: their ids mean nothing here, and polling them with this endpoint's key
        would lose their paid answers (a 404 reads as "gone") or fail every resume (a 401)."""
        unread = self.ledger.unread(role)
        here = [record for record, made_at in unread if made_at.rstrip("/") == base_url]
        elsewhere = [(record, made_at) for record, made_at in unread if made_at.rstrip("/") != base_url]
        if elsewhere and role not in self.warned:
            self.warned.add(role)
            log.warning("%s: %d unread batch(es) of an earlier endpoint left as they are (not polled at %s): %s",
                        role, len(elsewhere), shown_url(base_url),
                        ", ".join(f"{r.batch_id} at {shown_url(url)}" for r, url in elsewhere))
        return here

    async def _read_earlier(self, role: str, spec: EndpointSpec, runner: BatchRunner, record: BatchRecord) -> None:
        waiting = self.waiting[role]
        try:
            self._settle(role, spec, waiting, *await runner.read(role, record))
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 404:   # a provider that no longer knows the batch: nothing to read
                raise
        self.ledger.mark_read(record.chunk_key)

    def _settle(self, role: str, spec: EndpointSpec, waiting: dict[str, _Waiting], answers: dict[str, dict[str, Any]],
                failed: dict[str, str]) -> None:
        """Answers stored (those of lines no longer waited on too: they are paid for) and handed over; the
        waiting lines that failed kept for the next batch, or handed to the engine to send online."""
        for name, body in answers.items():
            w = waiting.get(name)
            result = self.store_answer(role, spec, w.key if w else name.rsplit(":", 1)[-1], body)
            if w is None:
                continue
            if result is None:
                failed[name] = "the answer is not a chat completion"
                continue
            del waiting[name]
            if not w.future.done():
                w.future.set_result(result)
        for name, why in failed.items():
            w = waiting.get(name)
            if w is None:
                continue
            w.sends += 1
            if spec.batch_resend == "online" or w.sends > spec.max_retries:
                del waiting[name]
                if not w.future.done():
                    w.future.set_exception(LineFailed(why) if spec.batch_resend == "online" else ApiError(
                        f"{role}: batch line failed {w.sends} times (the last: {why})", role=role))
