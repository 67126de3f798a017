"""The engine over the real SQLite store: cache across runs, one api_calls row per attempt, spend, and
the API key kept out of the database file, the logs and the exceptions."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lion_cli.core.api import EndpointSpec
from lion_cli.llm.engine import ApiError, BudgetExceeded, LLMEngine
from lion_cli.store.api_log import StoreCache, StoreCallLog, StoreSpend
from lion_cli.store.db import Store, open_store
from lion_cli.store.totals import role_totals
from tests.llm_support import loopback, spec, stats, teacher_messages

KEY = "sk-lion-test-4f9c2b7e1d"


def store_engine(store: Store, endpoints: dict[str, EndpointSpec], max_usd: float = 0.0) -> LLMEngine:
    return LLMEngine(endpoints, cache=StoreCache(store), call_log=StoreCallLog(store), spend=StoreSpend(store),
                     max_usd=max_usd, backoff_base_s=0.01)


async def test_rows_cache_across_runs_and_usage(tmp_path: Path) -> None:
    db = tmp_path / "lion.db"
    with loopback(rate_500=1.0, first_attempt_only=True) as url:
        endpoints = {"teacher": spec(url), "referee": spec(url, temperature=0.2)}
        with open_store(db) as store:
            async with store_engine(store, endpoints) as eng:
                first = await eng.chat("teacher", teacher_messages("Persist me."))
                await eng.chat("teacher", teacher_messages("Persist me."))  # a hit
                await eng.chat("referee", teacher_messages("Judge me."))
        # A new run (new connection, new engine): the paid answer comes from the file, not the server.
        with open_store(db) as store:
            async with store_engine(store, endpoints) as eng:
                again = await eng.chat("teacher", teacher_messages("Persist me."))
            usage = role_totals(store)
            rows = store.query("SELECT role, cached, status, retries, ok, attempt, final FROM api_calls ORDER BY id")
            cached_rows = store.scalar("SELECT COUNT(*) FROM request_cache")
            spent = StoreSpend(store).spent_usd()
        assert stats(url)["served"] == 2
    assert again.cached and again.text == first.text and again.cost_usd == pytest.approx(first.cost_usd)
    # Each 500 is its own row (attempt 1, not final), then the retry that answered (attempt 2, final).
    assert [tuple(r) for r in rows] == [("teacher", 0, 500, 0, 0, 1, 0), ("teacher", 0, 200, 1, 1, 2, 1),
                                        ("teacher", 1, None, 0, 1, 0, 1), ("referee", 0, 500, 0, 0, 1, 0),
                                        ("referee", 0, 200, 1, 1, 2, 1), ("teacher", 1, None, 0, 1, 0, 1)]
    assert cached_rows == 2
    assert usage["teacher"].calls == 3 and usage["teacher"].cached == 2 and usage["teacher"].retries == 1
    assert usage["teacher"].attempts == 2 and usage["teacher"].failed == 0
    assert usage["teacher"].prompt_tokens == first.prompt_tokens  # hits consume nothing
    assert spent == pytest.approx(usage["teacher"].cost_usd + usage["referee"].cost_usd) and spent > 0


async def test_budget_counts_earlier_runs(tmp_path: Path) -> None:
    with loopback() as url, open_store(tmp_path / "lion.db") as store:
        endpoints = {"teacher": spec(url, price_output_per_1k=50.0)}
        async with store_engine(store, endpoints) as eng:
            await eng.chat("teacher", teacher_messages("Costly answer."))
        async with store_engine(store, endpoints, max_usd=0.5) as eng:
            with pytest.raises(BudgetExceeded):
                await eng.chat("teacher", teacher_messages("Another."))
            # A cached answer is free: the cap does not block it.
            assert (await eng.chat("teacher", teacher_messages("Costly answer."))).cached
        assert stats(url)["received"] == 1


async def test_key_never_reaches_db_logs_or_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LION_TEST_KEY", KEY)
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and lion's own loggers, all of them
    db = tmp_path / "lion.db"
    errors: list[str] = []
    with loopback(api_key=KEY, rate_503=0.3, rate_drop=0.2, fault_seed=2) as url:
        good = spec(url, api_key_env="LION_TEST_KEY", max_retries=10)
        with open_store(db) as store:
            async with store_engine(store, {"teacher": good, "referee": spec(url, api_key_env="LION_TEST_KEY",
                                                                             temperature=9.0)}) as eng:
                for i in range(6):
                    await eng.chat("teacher", teacher_messages(f"secret-free {i}"))
                try:
                    await eng.chat("referee", teacher_messages("rejected"))
                except ApiError as exc:
                    errors.append(f"{exc!s} {exc!r}")
            wrong = spec(url, api_key_env="LION_OTHER_KEY")
            monkeypatch.setenv("LION_OTHER_KEY", KEY + "-x")
            async with store_engine(store, {"teacher": wrong}) as eng:
                with pytest.raises(ApiError) as info:
                    await eng.chat("teacher", teacher_messages("wrong key"))
                errors.append(f"{info.value!s} {info.value!r}")
            n_calls = store.scalar("SELECT SUM(final) FROM api_calls")
            n_attempts = store.scalar("SELECT COUNT(*) FROM api_calls")
            retried = store.scalar("SELECT SUM(retries) FROM api_calls")
        s = stats(url)
    assert s["served"] == 6 and s["unauthorized"] >= 1 and n_calls == 8 and retried > 0
    assert n_attempts == s["received"]  # every request the server saw is a row
    assert len(errors) == 2 and "400" in errors[0] and "401" in errors[1]
    out, err = capfd.readouterr()
    blobs = {"logs": caplog.text, "stdout": out, "stderr": err, "errors": " ".join(errors)}
    blobs |= {p.name: p.read_bytes().decode("latin-1") for p in tmp_path.iterdir() if p.name.startswith("lion.db")}
    assert "lion.db" in blobs and caplog.records  # the logs and the file were really there to search
    for name, blob in blobs.items():
        assert KEY not in blob, f"the API key leaked into {name}"
