"""Requests sent through a provider's OpenAI-compatible batch API, resumable in every phase.

The lines are split to the provider's limits (core/batches.py); each chunk is uploaded to /v1/files
(purpose batch), a batch is created on it, polled until it ends, and its output and error files are read
back, each line mapped to its custom_id. Every id is written to the ledger (store/batch_ledger.py) the
moment the provider gives it, and the batch carries its chunk key in its metadata, so a kill
- during the upload: the file is uploaded again (uploads are free);
- between creating the batch and recording it: the batch is found again by its metadata, not created twice;
- while polling or downloading: the recorded batch is polled again and its files read again;
and no paid line is submitted twice. Lines that failed or expired come back in `failed` for the caller
to send again (in the next batch, or online). A request refused for a moment (5xx, 429, a dropped
connection or a timeout) is retried with backoff: an upload, a poll, a download, a listing (a batch's
status polls also ride out a longer outage: POLLS_REFUSED_MAX polls in a row); a batch's
creation only after a 429 (after a 5xx or a lost connection the batch may exist: paid twice if created
again, so the stage fails and the next run finds it by its metadata); any other 4xx fails at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from lion_cli.core.batches import FINISHED, BatchLimits, BatchLine, BatchRecord, chunk_key, split_lines

TRIES = 4          # per request refused for a moment
RETRY_BASE_S = 0.1   # the first wait before a retry, doubled each time
# A batch's status polls in a row that may fail past those retries (an outage of the provider's API while
# it works on the batch: at the default poll_s of 30 s, ten minutes) before the stage fails.
POLLS_REFUSED_MAX = 20
METADATA_KEY = "lion_chunk"


def refused_for_a_moment(exc: Exception) -> bool:
    """A dropped connection, a timeout, a 429 or a 5xx: worth asking again later."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class BatchLedger(Protocol):
    def get(self, chunk_key: str) -> BatchRecord | None: ...
    def save(self, record: BatchRecord, role: str, base_url: str, lines: int) -> None: ...
    def unread(self, role: str) -> list[tuple[BatchRecord, str]]: ...   # (record, the base_url it was made at)
    def mark_read(self, chunk_key: str) -> None: ...
    def is_read(self, chunk_key: str) -> bool: ...


@dataclass
class BatchOutcome:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)   # custom_id → chat completion body
    failed: dict[str, str] = field(default_factory=dict)               # custom_id → why (to be sent again)
    batches: list[BatchRecord] = field(default_factory=list)


class BatchRunner:
    def __init__(self, client: httpx.AsyncClient, base_url: str, ledger: BatchLedger,
                 limits: BatchLimits | None = None, headers: dict[str, str] | None = None,
                 completion_window: str = "24h") -> None:
        self.client, self.base_url = client, base_url.rstrip("/")
        self.ledger, self.limits, self.headers = ledger, limits or BatchLimits(), headers or {}
        self.completion_window = completion_window

    async def run(self, role: str, lines: Sequence[BatchLine]) -> BatchOutcome:
        outcome = BatchOutcome()
        for chunk in split_lines(lines, self.limits):
            record = await self._finished(role, chunk)
            answers, failed = await self._results(record)
            for line in chunk:
                if line.custom_id not in answers and line.custom_id not in failed:
                    failed[line.custom_id] = f"not in batch {record.batch_id}'s results ({record.status})"
            outcome.answers.update(answers)
            outcome.failed.update(failed)
            outcome.batches.append(record)
        return outcome

    async def read(self, role: str, record: BatchRecord) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """A batch recorded earlier (by a run that was killed while waiting on it or reading it): waited
        on until it ends, then its answers and failed lines by custom_id."""
        return await self._results(await self._ended(role, record, 0))

    def _save(self, record: BatchRecord, role: str, chunk: Sequence[BatchLine]) -> None:
        self.ledger.save(record, role, self.base_url, len(chunk))

    async def _finished(self, role: str, chunk: Sequence[BatchLine]) -> BatchRecord:
        """The chunk's batch, created if nothing of it exists yet, once it has ended."""
        key = self._unread_key(chunk_key(chunk))
        record = self.ledger.get(key) or BatchRecord(key)
        if record.batch_id is None:
            record.batch_id = await self._created_before(key)
        if record.batch_id is None:
            if record.input_file_id is None:
                record.input_file_id = await self._upload(b"".join(line.jsonl() for line in chunk))
                self._save(record, role, chunk)
            batch = await self._request("POST", "/batches", idempotent=False, json={
                "input_file_id": record.input_file_id, "endpoint": "/v1/chat/completions",
                "completion_window": self.completion_window, "metadata": {METADATA_KEY: key}})
            record.batch_id, record.status = batch["id"], batch["status"]
            self._save(record, role, chunk)
        return await self._ended(role, record, len(chunk))

    def _unread_key(self, key: str) -> str:
        """The chunk's key, or where a batch of the very same lines has been read already (every line of it
        failed and is sent again) the first variant of it not read yet: the same on resume, so a killed run's
        retry batch is found again, and never the read batch, whose failures would be read again and again."""
        variant, n = key, 0
        while self.ledger.is_read(variant):
            n += 1
            variant = f"{key}-{n}"
        return variant

    async def _ended(self, role: str, record: BatchRecord, lines: int) -> BatchRecord:
        """`record`'s batch polled until it ends, each change of its state saved."""
        refused = 0
        while record.status not in FINISHED:
            try:
                batch = await self._request("GET", f"/batches/{record.batch_id}")
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                if not refused_for_a_moment(exc) or refused >= POLLS_REFUSED_MAX:
                    raise
                refused += 1
                await asyncio.sleep(self.limits.poll_s)
                continue
            refused = 0
            counts = batch.get("request_counts") or {}
            changed = batch["status"] != record.status
            record.status, record.completed, record.failed = (batch["status"], int(counts.get("completed", 0)),
                                                              int(counts.get("failed", 0)))
            record.output_file_id, record.error_file_id = batch.get("output_file_id"), batch.get("error_file_id")
            if changed or record.status in FINISHED:
                self.ledger.save(record, role, self.base_url, lines)
            if record.status not in FINISHED:
                await asyncio.sleep(self.limits.poll_s)
        return record

    async def _created_before(self, key: str) -> str | None:
        """A batch created for this chunk by a run killed before it could record the id."""
        after: str | None = None
        while True:
            page = await self._request("GET", "/batches", params={"limit": 100, **({"after": after} if after else {})})
            for batch in page.get("data", []):
                if (batch.get("metadata") or {}).get(METADATA_KEY) == key and batch.get("status") != "failed":
                    return str(batch["id"])
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1]["id"]

    async def _upload(self, data: bytes) -> str:
        resp = await self._sent("POST", "/files", data={"purpose": "batch"}, files={"file": ("batch.jsonl", data)})
        return str(resp.json()["id"])

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return dict((await self._sent(method, path, **kwargs)).json())

    async def _sent(self, method: str, path: str, idempotent: bool = True, **kwargs: Any) -> httpx.Response:
        """The provider's answer to one request, retried while it is refused for a moment: a 429, and when
        sending it twice does no harm a 5xx, a dropped connection or a timeout; any other refusal raises
        HTTPStatusError at once."""
        for attempt in range(TRIES):
            last = attempt == TRIES - 1
            try:
                resp = await self.client.request(method, f"{self.base_url}{path}", headers=self.headers, **kwargs)
            except httpx.TransportError:
                if last or not idempotent:
                    raise
            else:
                if last or not (resp.status_code == 429 or (idempotent and resp.status_code >= 500)):
                    resp.raise_for_status()
                    return resp
            await asyncio.sleep(RETRY_BASE_S * 2**attempt)
        raise AssertionError("unreachable")

    async def _results(self, record: BatchRecord) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        answers: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        for file_id in (record.output_file_id, record.error_file_id):
            if not file_id:
                continue
            resp = await self._sent("GET", f"/files/{file_id}/content")
            for raw in resp.text.splitlines():
                row = json.loads(raw)
                response = row.get("response") or {}
                if response.get("status_code") == 200:
                    answers[row["custom_id"]] = response["body"]
                else:
                    error = row.get("error") or (response.get("body") or {}).get("error") or {}
                    failed[row["custom_id"]] = str(error.get("code") or error.get("message") or "failed")
        return answers, failed
