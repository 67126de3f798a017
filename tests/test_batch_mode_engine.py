"""The engine in batch mode, in process against the scripted server's batch API: concurrent calls go out as one
batch and come back as the online answers, stored and priced at the batch price; a run killed after its batch
was created reads that batch on resume (its answers stored even for calls not made again) and serves no line
twice."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.api import estimate_prompt_tokens
from lion_cli.core.batches import BatchRecord
from lion_cli.llm.engine import LLMEngine
from lion_cli.server.app import build_server
from lion_cli.server.batch import BatchConfig
from lion_cli.server.faults import FaultConfig, LimitConfig
from lion_cli.server.runner import server_in_thread
from lion_cli.server.scripted import ScriptedBackend
from lion_cli.store.api_log import StoreCache, StoreCallLog
from lion_cli.store.batch_ledger import StoreBatchLedger, batch_states
from lion_cli.store.db import Store, open_store
from tests.llm_support import spec, stats, teacher_messages

INSTRUCTIONS = [f"Name river number {i}." for i in range(6)]


class Killed(Exception):
    pass


class KilledWhenDone(StoreBatchLedger):
    """Dies (as a SIGKILL would, nothing more written) when its batch has ended, before its results are read."""

    def save(self, record: BatchRecord, role: str, base_url: str, lines: int) -> None:
        if record.status == "completed":
            raise Killed
        super().save(record, role, base_url, lines)


def ask(url: str, store: Store | None, instructions: list[str], mode: str = "batch",
        ledger: Any = None) -> list[Any]:
    async def go() -> list[Any]:
        endpoints = {"teacher": spec(url, mode=mode, batch_poll_s=0.02)}
        engine = LLMEngine(endpoints, cache=StoreCache(store) if store else None,
                           call_log=StoreCallLog(store) if store else None, batch_ledger=ledger)
        async with engine:
            return await asyncio.gather(*(engine.chat("teacher", teacher_messages(x)) for x in instructions),
                                        return_exceptions=True)
    return asyncio.run(go())


def serve(faults: FaultConfig | None = None, limits: LimitConfig | None = None, **config: Any) -> Any:
    return server_in_thread(build_server(ScriptedBackend(bad_reply_rate=0.0), faults, limits,
                                         batch=BatchConfig(**config)))


def test_calls_in_batch_mode_come_back_as_the_online_answers_at_the_batch_price(tmp_path: Path) -> None:
    with serve() as url:
        online = ask(url, None, INSTRUCTIONS, mode="online")
    with serve(delay_s=0.02) as url, open_store(tmp_path / "lion.db") as store:
        batched = ask(url, store, INSTRUCTIONS, ledger=StoreBatchLedger(store))
        again = ask(url, store, INSTRUCTIONS, ledger=StoreBatchLedger(store))   # all in the request cache now
        served = stats(url)
        rows = store.query("SELECT lines, status FROM provider_batches")
        shown = batch_states(store)
        costs = [r[0] for r in store.query("SELECT cost_usd FROM api_calls WHERE cached = 0")]
    assert [r.text for r in batched] == [r.text for r in online] and all(r.cached for r in again)
    assert [tuple(r) for r in rows] == [(6, "completed")]
    assert [(b.role, b.status, b.lines, b.completed, b.failed, b.read) for b in shown] == [
        ("teacher", "completed", 6, 6, 0, True)]
    assert shown[0].describe().endswith("results read, 6 lines, 6 completed, 0 failed")
    assert served["batch"]["lines_served"] == 6 and served["duplicates"] == 0
    assert sum(costs) == pytest.approx(sum(r.cost_usd for r in online) / 2)


def test_a_key_echoed_into_a_batch_answer_is_stored_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider that repeats the Authorization header inside a batch line's answer: the key is redacted
    from the answer and from what the request cache keeps, as an online answer's is."""
    key = "Zq7Lm2Xv9Rt4Wz8Pn1Ks6Bd3Hy5Jc0TfGu"
    monkeypatch.setenv("LION_BATCH_KEY", key)
    echo = FaultConfig(rate_echo=1.0, echo_status=200, echo_pad=10)
    with serve(echo, LimitConfig(api_key=key)) as url, open_store(tmp_path / "lion.db") as store:
        async def go() -> list[Any]:
            endpoints = {"teacher": spec(url, mode="batch", batch_poll_s=0.02, api_key_env="LION_BATCH_KEY")}
            async with LLMEngine(endpoints, cache=StoreCache(store), call_log=StoreCallLog(store),
                                 batch_ledger=StoreBatchLedger(store)) as engine:
                return [await engine.chat("teacher", teacher_messages(x)) for x in INSTRUCTIONS[:1]]
        answers = asyncio.run(go())
        served = stats(url)
    assert served["batch"]["lines_served"] == 1 and "Bearer [redacted]" in answers[0].text, answers
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("lion.db"))
    assert b"Bearer [redacted]" in stored    # the echoed answer was stored, without the key
    assert key[:8].encode() not in stored and key[-8:].encode() not in stored, "the key is in lion.db"


def test_a_batch_left_by_a_killed_run_is_read_on_resume_not_sent_again(tmp_path: Path) -> None:
    with serve(delay_s=0.02) as url, open_store(tmp_path / "lion.db") as store:
        killed = ask(url, store, INSTRUCTIONS, ledger=KilledWhenDone(store))
        assert all(isinstance(r, Exception) for r in killed)
        # The resumed run asks for part of them (a chunk of its own, never seen by the provider) first.
        first = ask(url, store, INSTRUCTIONS[:4], ledger=StoreBatchLedger(store))
        rest = ask(url, store, INSTRUCTIONS[4:], ledger=StoreBatchLedger(store))
        served = stats(url)
        unread = StoreBatchLedger(store).unread("teacher")
    assert all(not isinstance(r, Exception) for r in first + rest), first + rest
    assert all(r.cached for r in rest)   # stored while the resumed run read the killed run's batch
    assert served["batch"]["lines_served"] == 6 and served["duplicates"] == 0, served
    assert unread == []


def test_the_dashboard_reads_each_batch_s_state(tmp_path: Path) -> None:
    from lion_cli.tui.queries import DashboardReader
    from tests.tui_fixtures import CLOCK, build_known_project

    project = build_known_project(tmp_path / "proj")
    with open_store(project / "lion.db") as store:
        ledger = StoreBatchLedger(store)
        ledger.save(BatchRecord("a", "file-1", "batch-1", "in_progress", completed=3), "referee", "http://x/v1", 10)
        ledger.save(BatchRecord("b", "file-2"), "teacher", "http://x/v1", 4)
    snap = DashboardReader(project, clock=lambda: CLOCK).refresh()
    assert [b.describe() for b in snap.batches] == [
        "teacher batch being uploaded: not created yet, 4 lines, 0 completed, 0 failed",
        "referee batch batch-1: in_progress, 10 lines, 3 completed, 0 failed"]


def test_a_batch_mode_step_s_progress_line_names_its_batch(tmp_path: Path) -> None:
    """Nothing is in flight while a provider works on a batch: the line says the batch's state instead."""
    from types import SimpleNamespace

    from lion_cli.core.types import Stage
    from lion_cli.pipeline.progress import StepProgress, role_activity

    class Modes:
        def endpoint(self, role: str) -> Any:
            return SimpleNamespace(mode="batch" if role == "referee" else "online")

    with open_store(tmp_path / "lion.db") as store:
        online = SimpleNamespace(describe=lambda: "in flight 0/2")
        ctx = SimpleNamespace(settings=Modes(), store=store, engine=SimpleNamespace(state=lambda role: online))
        assert role_activity(ctx, "referee").describe() == "referee: gathering requests into a provider batch"
        ledger = StoreBatchLedger(store)
        ledger.save(BatchRecord("a", "file-1", "batch-1", "in_progress", completed=3), "referee", "http://x/v1", 10)
        stream = io.StringIO()
        StepProgress(store, 0, Stage.DISCRIMINATION, "referee", 10, stream=stream,
                     api=lambda: role_activity(ctx, "referee"))
        assert "referee batch batch-1: in_progress, 10 lines, 3 completed" in stream.getvalue()
        assert role_activity(ctx, "teacher").describe() == "in flight 0/2"   # an online role: the engine's
        # Other roles' batches, however many and new, do not hide this role's; a read one is done with.
        for n in range(25):
            ledger.save(BatchRecord(f"t{n}", f"file-t{n}", f"batch-t{n}", "in_progress"), "teacher", "http://x/v1", 5)
        assert "batch-1" in role_activity(ctx, "referee").describe()
        ledger.mark_read("a")
        assert role_activity(ctx, "referee").describe() == "referee: gathering requests into a provider batch"


def test_polls_and_downloads_refused_for_a_moment_are_retried(tmp_path: Path) -> None:
    """A 503 while polling and a 502 while downloading (hours of polling meet a few): retried, not a failed stage."""
    with serve(delay_s=0.02, fail_polls=2, fail_downloads=1) as url, open_store(tmp_path / "lion.db") as store:
        answers = ask(url, store, INSTRUCTIONS[:3], ledger=StoreBatchLedger(store))
        served = stats(url)
    assert all(not isinstance(r, Exception) for r in answers), answers
    assert (served["batch"]["polls_refused"], served["batch"]["downloads_refused"]) == (2, 1), served
    assert served["batch"]["lines_served"] == 3 and served["duplicates"] == 0


def test_an_outage_longer_than_one_poll_s_retries_is_ridden_out(tmp_path: Path) -> None:
    """The provider's API down for more polls in a row than one request's retries cover: the batch is polled
    again at the next interval (up to POLLS_REFUSED_MAX polls), not the stage failed."""
    from lion_cli.llm.batch import POLLS_REFUSED_MAX, TRIES

    refused = 3 * TRIES
    assert refused < POLLS_REFUSED_MAX * TRIES
    with serve(delay_s=0.02, fail_polls=refused) as url, open_store(tmp_path / "lion.db") as store:
        answers = ask(url, store, INSTRUCTIONS[:2], ledger=StoreBatchLedger(store))
        served = stats(url)
    assert all(not isinstance(r, Exception) for r in answers), answers
    assert served["batch"]["polls_refused"] == refused and served["batch"]["lines_served"] == 2, served


def test_a_refused_poll_other_than_429_fails_at_once() -> None:
    import httpx

    from lion_cli.llm.batch import BatchRunner
    from lion_cli.llm.batch_queue import MemoryBatchLedger

    polls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        polls.append(request.url.path)
        return httpx.Response(401, json={"error": {"message": "invalid key"}})

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
            await BatchRunner(client, "http://provider/v1", MemoryBatchLedger()).read(
                "teacher", BatchRecord("k", "file-1", "batch-1", "in_progress"))

    with pytest.raises(httpx.HTTPStatusError):
        asyncio.run(go())
    assert polls == ["/v1/batches/batch-1"]


def test_a_batch_of_an_earlier_base_url_is_left_unread_and_named(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """teacher.base_url changed while a batch was unread: its id is not polled at the new endpoint (a 404 there
    would mark it read and lose its paid answers), it stays unread and one warning names it."""
    caplog.set_level(logging.WARNING, logger="lion.llm")
    with serve(delay_s=0.02) as url, open_store(tmp_path / "lion.db") as store:
        ledger = StoreBatchLedger(store)
        ledger.save(BatchRecord("old", "file-old", "batch-old", "in_progress"), "teacher", "http://old.example/v1", 2)
        answers = ask(url, store, INSTRUCTIONS[:2], ledger=ledger)
        more = ask(url, store, INSTRUCTIONS[2:4], ledger=ledger)
        unread = [(record.batch_id, made_at) for record, made_at in ledger.unread("teacher")]
    assert all(not isinstance(r, Exception) for r in answers + more), answers + more
    assert unread == [("batch-old", "http://old.example/v1")]
    warned = [r.getMessage() for r in caplog.records if "batch-old" in r.getMessage()]
    assert len(warned) == 2 and "batch-old at http://old.example/v1" in warned[0], warned   # one per run


def test_a_batch_is_cut_to_what_is_left_of_max_usd(tmp_path: Path) -> None:
    """A batch is paid whole: before it is submitted, its lines' estimates (prompt + max_tokens at the batch price)
    are counted against max_usd; the lines past it fail with BudgetExceeded (exit 3), never reach the provider."""
    from lion_cli.llm.errors import BudgetExceeded

    teacher = spec("http://unused/v1", mode="batch", batch_poll_s=0.02)
    line_usd = teacher.batch_prices.cost(estimate_prompt_tokens(teacher_messages(INSTRUCTIONS[0])), teacher.max_tokens)

    async def go(url: str) -> list[Any]:
        async with LLMEngine({"teacher": replace(teacher, base_url=url)}, max_usd=2.5 * line_usd) as engine:
            return await asyncio.gather(*(engine.chat("teacher", teacher_messages(x)) for x in INSTRUCTIONS),
                                        return_exceptions=True)

    with serve(delay_s=0.02) as url:
        got = asyncio.run(go(url))
        served = stats(url)
    assert sum(isinstance(r, BudgetExceeded) for r in got) == 4, got
    assert sum(not isinstance(r, BaseException) for r in got) == 2, got
    assert served["batch"]["lines_served"] == 2 and served["received"] == 2, served


def test_a_batch_creation_refused_with_a_5xx_is_not_sent_again() -> None:
    """The provider may have created the batch before its 500: a second create would pay for every line twice
    (the next run finds the first by its metadata instead)."""
    import httpx

    from lion_cli.core.batches import BatchLine
    from lion_cli.llm.batch import BatchRunner
    from lion_cli.llm.batch_queue import MemoryBatchLedger

    sent: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/files"):
            return httpx.Response(200, json={"id": "file-1"})
        if request.method == "GET":
            return httpx.Response(200, json={"data": [], "has_more": False})
        return httpx.Response(500, json={"error": {"message": "try later"}})

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
            await BatchRunner(client, "http://provider/v1", MemoryBatchLedger()).run(
                "teacher", [BatchLine("teacher:0:k", {"model": "m", "messages": []})])

    with pytest.raises(httpx.HTTPStatusError):
        asyncio.run(go())
    assert sent == ["GET /v1/batches", "POST /v1/files", "POST /v1/batches"]


def test_a_batch_whose_every_line_failed_is_sent_again_as_a_new_batch(tmp_path: Path) -> None:
    """The lines sent again are the same lines: their new batch is not mistaken for the one already read."""
    with serve(delay_s=0.02, fail_first_arrival=1) as url, open_store(tmp_path / "lion.db") as store:
        answers = ask(url, store, INSTRUCTIONS[:2], ledger=StoreBatchLedger(store))
        served = stats(url)
        rows = store.query("SELECT lines, completed, failed FROM provider_batches ORDER BY updated_at")
    assert all(not isinstance(r, Exception) for r in answers), answers
    assert [tuple(r) for r in rows] == [(2, 0, 2), (2, 2, 0)]
    assert served["batch"]["lines_served"] == 2 and served["duplicates"] == 0, served
