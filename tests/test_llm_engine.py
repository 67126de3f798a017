"""LLMEngine against the real loopback server: retries, rate limits, cache, budget, keys."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from lion_cli.llm.engine import ApiError, BudgetExceeded, LLMEngine, MissingApiKey
from lion_cli.llm.protocols import MemoryCache, MemoryCallLog
from lion_cli.server.scripted import scripted_teacher_answer
from tests.llm_support import loopback, spec, stats, teacher_messages


def engine(url: str, log: MemoryCallLog | None = None, **overrides: object) -> LLMEngine:
    return LLMEngine({"teacher": spec(url, **overrides)}, cache=MemoryCache(), call_log=log or MemoryCallLog(),
                     backoff_base_s=0.01)


async def test_answer_usage_and_record() -> None:
    log = MemoryCallLog()
    with loopback() as url:
        async with engine(url, log) as eng:
            res = await eng.chat("teacher", teacher_messages("Name a prime number."))
    assert res.text == scripted_teacher_answer("Name a prime number.")
    assert res.finish_reason == "stop" and not res.cached
    assert res.completion_tokens == len(res.text.split()) and res.prompt_tokens > 0
    assert res.cost_usd == pytest.approx(res.prompt_tokens * 1e-6 + res.completion_tokens * 2e-6)
    [rec] = log.records
    assert rec.ok and rec.status == 200 and rec.retries == 0 and rec.cost_usd == res.cost_usd


async def test_429_retry_after_is_honoured() -> None:
    log = MemoryCallLog()
    with loopback(rate_429=1.0, first_attempt_only=True, retry_after_s=1.0) as url:
        async with engine(url, log) as eng:
            t0 = time.monotonic()
            res = await eng.chat("teacher", teacher_messages("Wait for me."))
            waited = time.monotonic() - t0
        arrivals = [t for t, _role, _h, _s in stats(url, log=True)["log"]]
    assert res.text == scripted_teacher_answer("Wait for me.")
    assert 1.0 <= waited < 2.0
    assert arrivals[1] - arrivals[0] >= 0.99  # measured at the server: the retry came after Retry-After
    first, retry = log.records  # each attempt its own record: the 429, then the retry that answered
    assert (first.rate_limited, first.retries, first.ok, first.final) == (1, 0, False, False)
    assert (retry.rate_limited, retry.retries, retry.ok, retry.final, retry.attempt) == (0, 1, True, True, 2)


async def test_429_pauses_the_whole_endpoint() -> None:
    with loopback(rate_429=1.0, first_attempt_only=True, retry_after_s=1.0) as url:
        async with engine(url) as eng:
            first = asyncio.create_task(eng.chat("teacher", teacher_messages("first")))
            await asyncio.sleep(0.2)  # the first request has had its 429 by now
            second = asyncio.create_task(eng.chat("teacher", teacher_messages("second")))
            await asyncio.gather(first, second)
        log = stats(url, log=True)["log"]
    t_first, t_second = log[0][0], log[1][0]
    assert log[0][3] == 429 and log[1][2] != log[0][2]
    assert t_second - t_first >= 0.99  # the second request was held although it never saw a 429 itself


async def test_limit_429_from_the_server_window_is_retried() -> None:
    with loopback(rpm=2, window_s=1.0) as url:
        # All three at once (an adaptive limit would start at two and read the server's headers first).
        async with engine(url, adaptive_concurrency=False) as eng:
            t0 = time.monotonic()
            results = await asyncio.gather(*(eng.chat("teacher", teacher_messages(f"q{i}")) for i in range(3)))
            elapsed = time.monotonic() - t0
        s = stats(url)
    assert len(results) == 3 and s["served"] == 3 and s["rate_limited"] >= 1
    assert elapsed >= 0.9  # the third waited for the window to free a slot


@pytest.mark.parametrize("fault", ["500", "503", "drop", "malformed", "empty_choices"])
async def test_transient_failures_are_retried(fault: str) -> None:
    log = MemoryCallLog()
    with loopback(**{f"rate_{fault}": 1.0}, first_attempt_only=True) as url:
        async with engine(url, log) as eng:
            res = await eng.chat("teacher", teacher_messages("Retry me."))
        s = stats(url)
    assert res.text == scripted_teacher_answer("Retry me.")
    assert s["received"] == 2 and s["served"] == 1 and s["faults_by_kind"] == {fault: 1} and s["faults"] == 1
    failed, answered = log.records
    assert not failed.ok and not failed.final and answered.retries == 1 and answered.ok and answered.final


async def test_timeout_is_retried() -> None:
    log = MemoryCallLog()
    with loopback(rate_timeout=1.0, first_attempt_only=True, timeout_hold_s=30.0) as url:
        async with engine(url, log, timeout_s=0.5) as eng:
            t0 = time.monotonic()
            res = await eng.chat("teacher", teacher_messages("Slow one."))
            elapsed = time.monotonic() - t0
    assert res.text == scripted_teacher_answer("Slow one.")
    assert 0.5 <= elapsed < 3.0 and [r.retries for r in log.records] == [0, 1]
    assert "timeout" in (log.records[0].error or "") and log.records[1].ok


async def test_retries_exhausted_raise_with_the_last_error() -> None:
    log = MemoryCallLog()
    with loopback(rate_503=1.0) as url:
        async with engine(url, log, max_retries=2) as eng:
            with pytest.raises(ApiError, match=r"gave up after 3 attempts: HTTP 503") as info:
                await eng.chat("teacher", teacher_messages("Never works."))
        assert stats(url)["received"] == 3
    assert info.value.status == 503
    assert [(r.attempt, r.final, r.ok, r.status) for r in log.records] == [(1, False, False, 503),
                                                                          (2, False, False, 503), (3, True, False, 503)]
    assert sum(r.retries for r in log.records) == 2 and "gave up after 3 attempts" in (log.records[-1].error or "")


async def test_other_4xx_fail_at_once_with_the_server_message() -> None:
    with loopback() as url:
        async with engine(url, temperature=3.5) as eng:
            with pytest.raises(ApiError, match="'temperature' must be a number between 0 and 2") as info:
                await eng.chat("teacher", teacher_messages("Too hot."))
        assert stats(url)["received"] == 1  # not retried
    assert info.value.status == 400


async def test_wrong_key_is_401_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LION_TEST_KEY", "sk-wrong-0123456789")
    with loopback(api_key="sk-right-0123456789") as url:
        async with engine(url, api_key_env="LION_TEST_KEY") as eng:
            with pytest.raises(ApiError, match="Incorrect or missing API key") as info:
                await eng.chat("teacher", teacher_messages("Let me in."))
        s = stats(url)
    assert info.value.status == 401 and s["received"] == 1 and s["unauthorized"] == 1
    assert "sk-wrong" not in str(info.value)


async def test_missing_key_variable_is_named_and_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LION_ABSENT_KEY", raising=False)
    with loopback() as url:
        async with engine(url, api_key_env="LION_ABSENT_KEY") as eng:
            with pytest.raises(MissingApiKey, match="environment variable LION_ABSENT_KEY is not set"):
                await eng.chat("teacher", teacher_messages("x"))
        assert stats(url)["received"] == 0


async def test_cache_hit_sends_nothing() -> None:
    log = MemoryCallLog()
    with loopback() as url:
        async with engine(url, log) as eng:
            first = await eng.chat("teacher", teacher_messages("Once only."))
            before = stats(url)
            again = await eng.chat("teacher", teacher_messages("Once only."))
            after = stats(url)
            other_sample = await eng.chat("teacher", teacher_messages("Once only."), sample_index=1)
    assert before == {**after, "uptime_s": before["uptime_s"]} and after["received"] == 1
    assert again.cached and again.text == first.text and again.cache_key == first.cache_key
    assert not other_sample.cached and other_sample.cache_key != first.cache_key
    assert [r.cached for r in log.records] == [False, True, False]
    assert log.records[1].cost_usd == 0 and log.records[1].prompt_tokens == 0  # a hit costs nothing


async def test_identical_concurrent_calls_share_one_request() -> None:
    with loopback(latency_min=0.2, latency_max=0.2) as url:
        async with engine(url) as eng:
            a, b = await asyncio.gather(*(eng.chat("teacher", teacher_messages("Same.")) for _ in range(2)))
        assert stats(url)["received"] == 1
    assert a.text == b.text and sorted([a.cached, b.cached]) == [False, True]


@pytest.mark.parametrize("meter", ["call_log", "engine"])
async def test_budget_cap_stops_new_requests(meter: str) -> None:
    log = MemoryCallLog()
    with loopback() as url:
        eng = LLMEngine({"teacher": spec(url, price_input_per_1k=10.0)}, call_log=log, max_usd=0.05,
                        spend=log if meter == "call_log" else None)
        async with eng:
            await eng.chat("teacher", teacher_messages("Expensive."))  # spends more than the cap
            sent = stats(url)["received"]
            with pytest.raises(BudgetExceeded, match="budget reached"):
                await eng.chat("teacher", teacher_messages("One more."))
            assert stats(url)["received"] == sent == 1
    assert log.spent_usd() > 0.05 and len(log.records) == 1
    assert eng.spent_here == pytest.approx(log.spent_usd())


async def test_finish_reason_length_is_visible() -> None:
    log = MemoryCallLog()
    with loopback() as url:
        async with engine(url, log) as eng:
            res = await eng.chat("teacher", teacher_messages("Talk at length."), max_tokens=5)
    assert res.finish_reason == "length" and res.truncated and res.completion_tokens == 5
    assert log.records[0].finish_reason == "length"


async def test_ratelimit_headers_slow_the_client() -> None:
    """The client believes it may send 60,000/min; the server allows 3 per second and says so in
    x-ratelimit-remaining/reset: the client waits for the reset instead of collecting 429s."""
    with loopback(rpm=3, window_s=1.0) as url:
        async with engine(url, max_concurrency=1) as eng:
            t0 = time.monotonic()
            for i in range(7):
                await eng.chat("teacher", teacher_messages(f"paced {i}"))
            elapsed = time.monotonic() - t0
        s = stats(url)
    assert s["served"] == 7 and s["rate_limited"] == 0
    assert elapsed >= 1.9  # requests 4 and 7 each waited for a slot to leave the window


async def test_bucket_does_not_burst_a_minute_at_start() -> None:
    """600 requests/min allowed: a full-minute bucket would fire all 30 at t=0; ours starts with a
    small burst and then paces at about 10 per second."""
    with loopback() as url:
        async with engine(url, rpm=600, max_concurrency=30) as eng:
            await asyncio.gather(*(eng.chat("teacher", teacher_messages(f"burst {i}")) for i in range(30)))
        times = sorted(t for t, *_ in stats(url, log=True)["log"])
    rel = [t - times[0] for t in times]
    assert sum(1 for t in rel if t < 0.5) <= 3 + 6  # the burst (3) plus half a second of refill (5)
    assert rel[-1] >= (30 - 3) / 10 * 0.95


async def test_request_shape_on_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact headers and body (a fake transport can see them; the key only in Authorization)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
                                         "usage": {"prompt_tokens": 3, "completion_tokens": 1}})

    monkeypatch.setenv("LION_TEST_KEY", "sk-wire-secret")
    eng = LLMEngine({"generator": spec("http://api.test/v1", api_key_env="LION_TEST_KEY")},
                    transport=httpx.MockTransport(handler))
    async with eng:
        await eng.chat("generator", [{"role": "user", "content": "hi"}], sample_index=4, seed=77, temperature=1.0)
    req = seen[0]
    body = __import__("json").loads(req.content)
    assert str(req.url) == "http://api.test/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-wire-secret"
    assert req.headers["x-lion-role"] == "generator" and req.headers["x-lion-sample"] == "4"
    assert body == {"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "temperature": 1.0,
                    "top_p": 1.0, "max_tokens": 200, "seed": 77}


async def test_a_key_echoed_by_the_server_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": f"bad key {request.headers['authorization']}"}})

    monkeypatch.setenv("LION_TEST_KEY", "sk-echo-secret")
    log = MemoryCallLog()
    eng = LLMEngine({"teacher": spec("http://api.test/v1", api_key_env="LION_TEST_KEY")}, call_log=log,
                    transport=httpx.MockTransport(handler))
    async with eng:
        with pytest.raises(ApiError) as info:
            await eng.chat("teacher", [{"role": "user", "content": "hi"}])
    assert "sk-echo-secret" not in str(info.value) and "[redacted]" in str(info.value)
    assert "sk-echo-secret" not in (log.records[0].error or "")


async def test_shipped_prompts_get_answers_the_pipeline_can_read() -> None:
    """Every role's real template (prompts/*.txt) through the engine to the scripted server and back
    through the parsers the pipeline uses: the referee's reply parses to the controlled scores, the
    generator's reply is one clean instruction."""
    from lion_cli.core.candidates import clean_generator_reply, reject_reason
    from lion_cli.core.prompts import GENERATOR_MARKERS, render
    from lion_cli.core.referee import Scores, parse_scores
    from lion_cli.prompts_loader import load_role_templates
    from lion_cli.server.scripted import ScriptedBackend

    t = load_role_templates()
    backend = ScriptedBackend(teacher_score=8.0, student_min=3.0, student_max=5.0, bad_reply_rate=0.0)
    with loopback(backend) as url:
        endpoints = {role: spec(url) for role in ("teacher", "referee", "generator")}
        async with LLMEngine(endpoints, cache=MemoryCache()) as eng:
            instr = "List three uses of copper."
            answer = await eng.chat("teacher", render(t["teacher"], instruction=instr, input=""))
            verdicts = [await eng.chat("referee", render(t["referee"], instruction=instr, answer_1=a, answer_2=b))
                        for a, b in ((answer.text, "Copper is a metal."), ("Copper is a metal.", answer.text))]
            replies = [await eng.chat("generator", render(t[name], seed=instr), sample_index=i, seed=i)
                       for name in ("generator_hard", "generator_easy") for i in range(20)]
    assert answer.text == scripted_teacher_answer(instr)
    first, second = (parse_scores(v.text) for v in verdicts)
    assert isinstance(first, Scores) and isinstance(second, Scores)
    assert first.first == second.second == 8.0 and 3.0 <= first.second == second.first <= 5.0
    assert all(v.text.splitlines()[-2:] == [f"Assistant 1: {s.first:g}", f"Assistant 2: {s.second:g}"]
               for v, s in ((verdicts[0], first), (verdicts[1], second)))
    cleaned = [clean_generator_reply(r.text) for r in replies]
    assert all(instruction and not extra for instruction, extra in cleaned)
    accepted = [c for c, _ in cleaned if reject_reason(c, "stop", GENERATOR_MARKERS) is None]
    assert len(accepted) >= 24 and len(set(accepted)) >= 20  # mostly usable, some meant to be rejected


async def test_budget_is_checked_again_after_waiting_for_the_limit() -> None:
    """Four calls queue behind a 60/min bucket; the first spends past the cap while the others wait:
    none of them may go out once its turn comes."""
    log = MemoryCallLog()
    with loopback() as url:
        eng = LLMEngine({"teacher": spec(url, price_input_per_1k=10.0, rpm=60, max_concurrency=4)},
                        call_log=log, max_usd=0.05)
        async with eng:
            outcomes = await asyncio.gather(*(eng.chat("teacher", teacher_messages(f"queued {i}")) for i in range(4)),
                                            return_exceptions=True)
        assert stats(url)["requests"] == 1
    assert sum(isinstance(o, BudgetExceeded) for o in outcomes) == 3 and len(log.records) == 1


async def test_each_call_records_what_the_limiter_reserved(tmp_path: object) -> None:
    """api_calls.reserved_tokens is what the TPM bucket was charged before the request went out
    (prompt estimate + max_tokens), so `lion status` and the dashboard show the limiter's accounting."""
    from pathlib import Path

    from lion_cli.core.api import estimate_prompt_tokens, request_reservation
    from lion_cli.store.api_log import StoreCallLog
    from lion_cli.store.db import open_store

    store = open_store(Path(str(tmp_path)) / "lion.db")
    messages = teacher_messages("How many legs has a spider?")
    with loopback() as url:
        async with LLMEngine({"teacher": spec(url, max_tokens=300)}, cache=MemoryCache(),
                             call_log=StoreCallLog(store)) as eng:
            [limiter] = eng.limiters.values()
            taken: list[int] = []
            slot = limiter.slot
            limiter.slot = lambda est: (taken.append(est), slot(est))[1]  # type: ignore[method-assign]
            await eng.chat("teacher", messages)
            await eng.chat("teacher", messages)   # a cache hit reserves nothing
    assert taken == [request_reservation(estimate_prompt_tokens(messages), 300)]
    assert [r[0] for r in store.query("SELECT reserved_tokens FROM api_calls ORDER BY id")] == [taken[0], 0]
