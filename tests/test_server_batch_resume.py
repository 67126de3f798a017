"""llm/batch.py against the scripted server's batch API: lines answered by custom_id, split to the
limits, failed and expired lines returned to be sent again, a refused upload retried, and a run killed
in each phase (after the upload, between creating the batch and recording it, while polling) resumed
from the store's ledger without any line served twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from lion_cli.core.batches import BatchLimits, BatchLine, BatchRecord
from lion_cli.llm.batch import BatchOutcome, BatchRunner
from lion_cli.server.app import build_server
from lion_cli.server.batch import BatchConfig
from lion_cli.server.runner import server_in_thread
from lion_cli.server.scripted import ScriptedBackend
from lion_cli.store.batch_ledger import StoreBatchLedger
from lion_cli.store.db import open_store
from tests.llm_support import TEACHER_PROMPT, stats

FAST = BatchLimits(poll_s=0.02)


def lines(n: int, start: int = 0) -> list[BatchLine]:
    return [BatchLine(f"teacher:{i}", {"model": "scripted", "max_tokens": 64, "messages": [
        {"role": "user", "content": TEACHER_PROMPT.format(f"Name river number {i}.")}]}) for i in range(start, n)]


class Killed(Exception):
    pass


class KillingLedger(StoreBatchLedger):
    """Dies (as a SIGKILL would, with nothing more written) at the n-th save, or before saving a batch id."""

    def __init__(self, store: Any, at_save: int = -1, before_batch_id: bool = False) -> None:
        super().__init__(store)
        self.saves, self.at_save, self.before_batch_id = 0, at_save, before_batch_id

    def save(self, record: BatchRecord, role: str, base_url: str, lines: int) -> None:
        self.saves += 1
        if self.saves == self.at_save or (self.before_batch_id and record.batch_id):
            raise Killed
        super().save(record, role, base_url, lines)


def run(url: str, ledger: Any, batch_lines: list[BatchLine], limits: BatchLimits = FAST) -> BatchOutcome:
    async def go() -> BatchOutcome:
        async with httpx.AsyncClient(timeout=10) as client:
            return await BatchRunner(client, url, ledger, limits).run("teacher", batch_lines)
    return asyncio.run(go())


def serve(**config: Any) -> Any:
    return server_in_thread(build_server(ScriptedBackend(bad_reply_rate=0.0), batch=BatchConfig(**config)))


def test_lines_come_back_by_custom_id_split_to_the_limits(tmp_path: Path) -> None:
    with serve(fail_uploads=1) as url, open_store(tmp_path / "lion.db") as store:
        got = run(url, StoreBatchLedger(store), lines(7), BatchLimits(max_lines=3, poll_s=0.02))
        served = stats(url)
        rows = store.query("SELECT lines, status FROM provider_batches ORDER BY lines")
    assert sorted(got.answers) == sorted(x.custom_id for x in lines(7)) and not got.failed
    assert all(body["choices"][0]["message"]["content"] for body in got.answers.values())
    assert [tuple(r) for r in rows] == [(1, "completed"), (3, "completed"), (3, "completed")]
    assert (served["served"], served["duplicates"], served["batch"]["uploads_refused"]) == (7, 0, 1)


def test_failed_and_expired_lines_are_returned_to_be_sent_again(tmp_path: Path) -> None:
    with serve(fail_line_rate=0.4, seed=1, expire_after=6) as url, open_store(tmp_path / "lion.db") as store:
        ledger = StoreBatchLedger(store)
        first = run(url, ledger, lines(12))
        again = [x for x in lines(12) if x.custom_id in first.failed]
        second = run(url, ledger, again)
        third = run(url, ledger, [x for x in again if x.custom_id in second.failed])
        served = stats(url)
    assert first.batches[0].status == "expired" and "batch_expired" in first.failed.values()
    assert "server_error" in first.failed.values()
    assert len(first.answers) == 6 and set(first.answers).isdisjoint(first.failed)
    assert len(first.answers) + len(second.answers) + len(third.answers) == 12 - len(third.failed)
    assert served["duplicates"] == 0 and served["served"] == 12 - len(third.failed)


@pytest.mark.parametrize("kill", ["after the upload", "before the batch id is recorded", "while polling"])
def test_a_run_killed_in_each_phase_resumes_without_serving_a_line_twice(tmp_path: Path, kill: str) -> None:
    options = {"after the upload": {"at_save": 1}, "before the batch id is recorded": {"before_batch_id": True},
               "while polling": {"at_save": 3}}[kill]
    with serve(delay_s=0.2) as url, open_store(tmp_path / "lion.db") as store:
        with pytest.raises(Killed):
            run(url, KillingLedger(store, **options), lines(5))
        resumed = run(url, StoreBatchLedger(store), lines(5))
        again = run(url, StoreBatchLedger(store), lines(5))   # everything recorded: nothing is sent
        served = stats(url)
    assert sorted(resumed.answers) == sorted(again.answers) == [f"teacher:{i}" for i in range(5)]
    assert (served["served"], served["duplicates"]) == (5, 0)
    assert sum(served["batch"]["batches"].values()) == 1
