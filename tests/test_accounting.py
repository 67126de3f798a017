"""Accounting: every request sent is an api_calls row (a retry, a refusal, one abandoned in flight) and
the trigger-kept totals count calls and attempts apart; prices default by host and model and yield to
the ones set in lion.toml; a 404 says to check for /v1; a failed stage shows as failed with its error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from lion_cli.config import ConfigError, Settings, parse_settings
from lion_cli.core.api import EndpointSpec, cost
from lion_cli.core.prices import DEFAULT_PRICES, KNOWN_PRICES, is_local_host, known_price, resolve_prices
from lion_cli.core.totals import plan_from_settings
from lion_cli.llm.engine import ApiError, LLMEngine
from lion_cli.pipeline.concurrency import for_each
from lion_cli.store.api_log import StoreCache, StoreCallLog, StoreSpend
from lion_cli.store.db import Store, open_store
from lion_cli.store.totals import role_totals
from tests.llm_support import loopback, spec, stats, teacher_messages

WRONG_KEY = "lion-accounting-wrong-key-5k2j9"


def _engine(store: Store, endpoint: EndpointSpec, transport: httpx.AsyncBaseTransport | None = None) -> LLMEngine:
    return LLMEngine({"teacher": endpoint}, cache=StoreCache(store), call_log=StoreCallLog(store),
                     spend=StoreSpend(store), transport=transport, backoff_base_s=0.01)


def test_a_refused_key_is_one_row_per_request_the_server_saw(tmp_path: Path) -> None:
    """A single-slot server answering 401 one request at a time: the first 401 stops the stage, the
    requests still on the wire are let finish (pipeline/concurrency.py); each of the 30 is a row."""
    sent: list[httpx.Request] = []
    one_at_a_time = asyncio.Lock()

    async def server(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        async with one_at_a_time:
            await asyncio.sleep(0.01)
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})

    async def run(store: Store) -> None:
        endpoint = spec("http://api.example.test/v1", max_concurrency=32, adaptive_concurrency=False)
        async with _engine(store, endpoint, httpx.MockTransport(server)) as eng:
            async def ask(i: int) -> None:
                await eng.chat("teacher", teacher_messages(f"question {i}"))
            with pytest.raises(ApiError, match="401"):
                await for_each(range(30), ask, 32)

    with open_store(tmp_path / "lion.db") as store:
        asyncio.run(run(store))
        rows = store.query("SELECT status, ok, final, error FROM api_calls")
        usage = role_totals(store)["teacher"]
    assert len(sent) == 30 and len(rows) == 30
    assert sum(1 for r in rows if r["status"] == 401) >= 1
    assert all(r["ok"] == 0 and r["final"] == 1 for r in rows)
    assert {r["error"].split(" (")[0] for r in rows if r["status"] is None} <= {"abandoned in flight"}
    assert (usage.calls, usage.attempts, usage.failed, usage.cost_usd) == (30, 30, 30, 0.0)


def test_retries_are_rows_and_the_totals_count_calls_and_attempts_apart(tmp_path: Path) -> None:
    with loopback(rate_503=1.0, first_attempt_only=True) as url, open_store(tmp_path / "lion.db") as store:
        async def run() -> None:
            async with _engine(store, spec(url, price_input_per_1k=1.0, price_output_per_1k=2.0)) as eng:
                await eng.chat("teacher", teacher_messages("once"))
                await eng.chat("teacher", teacher_messages("once"))   # a cache hit
        asyncio.run(run())
        rows = [tuple(r) for r in store.query("SELECT attempt, final, ok, status, retries, cost_usd > 0, cached"
                                              " FROM api_calls ORDER BY id")]
        usage = role_totals(store)["teacher"]
        received = stats(url)["received"]
    assert rows == [(1, 0, 0, 503, 0, 0, 0), (2, 1, 1, 200, 1, 1, 0), (0, 1, 1, None, 0, 0, 1)]
    assert (usage.calls, usage.cached, usage.paid, usage.attempts, usage.retries, usage.failed) == (2, 1, 1, 2, 1, 0)
    assert usage.attempts == received


def test_api_usage_before_attempt_rows_still_adds_up(tmp_path: Path) -> None:
    """A store migrated from before 0007: its rows held whole calls (retries folded in); the new
    attempts column is filled from them and new rows add to it."""
    from lion_cli.core.api import CallRecord
    from lion_cli.store.db import available_migrations, connect, migrate

    db = tmp_path / "lion.db"
    conn = connect(db)
    migrate(conn, [m for m in available_migrations() if m.name < "0007"])
    conn.execute("INSERT INTO api_calls (ts, role, model, base_url, ok, cached, retries) VALUES"
                 " (1, 'teacher', 'm', 'u', 1, 0, 2), (2, 'teacher', 'm', 'u', 1, 1, 0),"
                 " (3, 'teacher', 'm', 'u', 0, 0, 1)")
    conn.commit()
    conn.close()
    with open_store(db) as store:
        before = role_totals(store)["teacher"]
        StoreCallLog(store).record(CallRecord(4.0, "teacher", "m", "u", "k", 500, False, False, 0.1, attempt=1,
                                              final=False))
        after = role_totals(store)["teacher"]
    assert (before.calls, before.attempts, before.retries, before.failed) == (3, 5, 3, 1)
    assert (after.calls, after.attempts, after.retries, after.failed) == (3, 6, 3, 1)


@pytest.mark.parametrize(("url", "local"), [
    ("http://localhost:8000/v1", True), ("http://127.0.0.1:8080/v1", True), ("http://127.8.9.1/v1", True),
    ("http://[::1]:8000/v1", True), ("http://10.1.2.3/v1", True), ("http://172.16.0.5/v1", True),
    ("http://172.31.255.1/v1", True), ("http://192.168.1.20:11434/v1", True), ("http://169.254.1.1/v1", True),
    ("http://[fe80::1]/v1", True), ("http://gpu-box.local:8000/v1", True), ("http://vllm:8000/v1", True),
    ("https://api.openai.com/v1", False), ("http://172.32.0.1/v1", False), ("https://8.8.8.8/v1", False),
    ("https://api.together.xyz/v1", False),
])
def test_which_hosts_are_free(url: str, local: bool) -> None:
    assert is_local_host(url) is local


def test_prices_by_host_and_model_unless_set() -> None:
    assert known_price("gpt-4o-mini") == KNOWN_PRICES["gpt-4o-mini"]
    assert known_price("gpt-4o-2024-08-06") == KNOWN_PRICES["gpt-4o"]            # a dated snapshot
    assert known_price("gpt-3.5-turbo-0125") == KNOWN_PRICES["gpt-3.5-turbo"]
    assert known_price("gpt-4o-mini-2024-07-18") == KNOWN_PRICES["gpt-4o-mini"]   # not gpt-4o's
    assert known_price("gpt-4.1-mini") == KNOWN_PRICES["gpt-4.1-mini"] and known_price("llama-3-70b") is None
    local = resolve_prices("http://127.0.0.1:8080/v1", "gpt-4o", "auto", "auto")
    assert (local.input_per_1k, local.output_per_1k, local.source) == (0.0, 0.0, "local")
    hosted = resolve_prices("https://api.openai.com/v1", "gpt-4o", "auto", "auto")
    assert (hosted.input_per_1k, hosted.output_per_1k, hosted.source) == (*KNOWN_PRICES["gpt-4o"], "known")
    unknown = resolve_prices("https://api.example.com/v1", "mystery-model", "auto", "auto")
    assert (unknown.input_per_1k, unknown.output_per_1k, unknown.source) == (*DEFAULT_PRICES, "default")
    # A price set in lion.toml always wins, on a local server too; one set, the other by rule.
    mixed = resolve_prices("http://localhost/v1", "m", 0.5, "auto")
    assert (mixed.input_per_1k, mixed.output_per_1k) == (0.5, 0.0)
    assert cost(EndpointSpec(base_url="http://localhost:9/v1"), 1000, 1000) == 0.0
    assert cost(EndpointSpec(base_url="http://localhost:9/v1", price_input_per_1k=1.0, price_output_per_1k=2.0),
                1000, 500) == pytest.approx(2.0)


def test_the_config_tells_a_set_price_from_the_default() -> None:
    settings = parse_settings({"teacher": {"base_url": "http://127.0.0.1:8000/v1", "price_input_per_1k": 0.25}})
    assert settings.teacher.price_input_per_1k == 0.25 and settings.teacher.price_output_per_1k == "auto"
    assert Settings().referee.price_input_per_1k == "auto"
    plan = plan_from_settings(settings.model_dump())
    assert plan is not None
    assert (plan.endpoints["teacher"].price_input_per_1k, plan.endpoints["teacher"].price_output_per_1k) == (0.25, 0.0)
    assert plan.endpoints["referee"].price_input_per_1k == KNOWN_PRICES["gpt-3.5-turbo"][0]
    for bad in ("0.5", -1.0, True):
        with pytest.raises(ConfigError, match=r"teacher\.price_input_per_1k'?: expected a price"):
            parse_settings({"teacher": {"price_input_per_1k": bad}})


def test_lion_check_notes_an_unknown_hosted_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lion_cli.cli.demo import scripted_project
    from lion_cli.preflight import check_project

    monkeypatch.setenv("LION_ACCOUNTING_KEY", "x")
    project = scripted_project(tmp_path, "http://127.0.0.1:9/v1", tmp_path / "student", extra=[
        'generator.base_url="https://api.example.com/v1"', 'generator.model="mystery-model"',
        'generator.api_key_env="LION_ACCOUNTING_KEY"'])
    notes = check_project(project).notes
    assert [n for n in notes if "mystery-model" in n and "price_input_per_1k" in n]
    assert not [n for n in notes if "no known price" in n and "generator" not in n]   # local ones are free


async def test_a_404_says_to_check_for_v1() -> None:
    with loopback() as url:
        async with LLMEngine({"teacher": spec(url.removesuffix("/v1"))}) as eng:
            with pytest.raises(ApiError, match=r"HTTP 404.*ending in /v1"):
                await eng.chat("teacher", teacher_messages("where?"))
        async with LLMEngine({"teacher": spec(url, model="none")}) as eng:   # the right root: no such hint
            await eng.chat("teacher", teacher_messages("here"))


def test_a_failed_stage_shows_as_failed_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       tiny_model_dir: Path) -> None:
    """A wrong key: the teacher's requests get 401s, the imitation stage fails; `lion status` says
    failed, with the server's error and without the key; each request the server saw is a row."""
    from lion_cli.cli.demo import scripted_project
    from tests.loop_helpers import lion

    monkeypatch.setenv("LION_ACCOUNTING_KEY", WRONG_KEY)
    with loopback(api_key="lion-accounting-right-key-8d3f1") as url:
        project = scripted_project(tmp_path, url, tiny_model_dir, seeds=12,
                                   extra=['teacher.api_key_env="LION_ACCOUNTING_KEY"'])
        run = lion("run", str(project), timeout=120)
        received = stats(url)["received"]
    assert run.returncode != 0 and "401" in run.stderr
    status = lion("status", str(project), "--json")
    assert status.returncode == 0, status.stderr
    imitation = json.loads(status.stdout)["per_iteration"][0]["stages"]["imitation"]
    assert imitation["status"] == "failed" and "401" in imitation["note"]
    assert WRONG_KEY not in status.stdout and WRONG_KEY[:12] not in run.stderr
    with open_store(project / "lion.db") as store:
        # Each request the server answered is a row; so is each one the failure left on the wire (the
        # server may not have read it yet, but lion cannot know that it never will).
        refused = store.scalar("SELECT COUNT(*) FROM api_calls WHERE status = 401")
        abandoned = store.scalar("SELECT COUNT(*) FROM api_calls WHERE status IS NULL AND error LIKE 'abandoned%'")
        assert refused == received and store.scalar("SELECT COUNT(*) FROM api_calls") == refused + abandoned
        assert store.scalar("SELECT status FROM stages WHERE iteration = 0 AND stage = 'imitation'") == "failed"


def test_a_failed_stage_records_its_error_without_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lion_cli.cli.demo import scripted_project
    from lion_cli.cli.wiring import build_context
    from lion_cli.config import load_settings
    from lion_cli.core.types import Stage
    from lion_cli.pipeline import loop

    monkeypatch.setenv("LION_ACCOUNTING_KEY", WRONG_KEY)
    project = scripted_project(tmp_path, "http://127.0.0.1:9/v1", tmp_path / "student",
                               extra=['referee.api_key_env="LION_ACCOUNTING_KEY"'])

    async def broken(ctx: object, iteration: int) -> dict[str, object]:
        raise RuntimeError(f"the server said: your key {WRONG_KEY} is not valid here")

    monkeypatch.setitem(loop.STAGE_FNS, Stage.IMITATION, broken)
    with open_store(project / "lion.db") as store:
        ctx = build_context(project, load_settings(project), store)
        with pytest.raises(RuntimeError):
            asyncio.run(loop.run_loop(ctx, 1))
        row = store.query("SELECT status, detail_json FROM stages WHERE stage = 'imitation'")[0]
        events = " ".join(r[0] for r in store.query("SELECT message FROM events"))
    assert row["status"] == "failed" and "RuntimeError: the server said" in json.loads(row["detail_json"])["error"]
    assert WRONG_KEY not in row["detail_json"] and WRONG_KEY not in events and "[redacted]" in events
