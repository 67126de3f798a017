"""Adaptive concurrency: the AIMD rules on a fake clock (core/aimd.py), the slots that apply them, the
engine against `lion serve`'s one-slot mode (a fixed 32 in flight times out, the adaptive engine does
not), timeouts counted from the send, requests given up on counted as possibly billed, and what the
engine is doing shown on the progress line, in the store and by `lion status`."""

from __future__ import annotations

import asyncio
import heapq
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from lion_cli.core.aimd import INITIAL, ConcurrencyLimit, EndpointState, Ticket
from lion_cli.llm.adaptive import AdaptiveSlots
from lion_cli.llm.engine import ApiError, LLMEngine
from lion_cli.llm.protocols import MemoryCache, MemoryCallLog, MemoryEndpointStates
from tests.llm_support import loopback, spec, stats, teacher_messages

# --- the rules, on a fake clock --------------------------------------------------------------------


def run_slots_server(control: ConcurrencyLimit, slots: int, service_s: float, requests: int,
                     overhead_s: float = 0.002) -> dict[str, float]:
    """A discrete-event run: unlimited demand, a server with `slots` that each take service_s per
    request in arrival order. Returns the throughput ÷ capacity, the worst latency and the limits seen."""
    events: list[tuple[float, int, Ticket, float]] = []
    free_at = [0.0] * slots
    pending, in_flight, seq, now, worst, limits = requests, 0, 0, 0.0, 0.0, []

    def send() -> None:
        nonlocal pending, in_flight, seq
        while pending and in_flight < control.limit:
            pending, in_flight, seq = pending - 1, in_flight + 1, seq + 1
            ticket = control.sent(in_flight, in_flight)
            slot = min(range(slots), key=free_at.__getitem__)
            free_at[slot] = max(now + overhead_s, free_at[slot]) + service_s
            heapq.heappush(events, (free_at[slot] + overhead_s, seq, ticket, now))

    send()
    while events:
        now, _, ticket, sent_at = heapq.heappop(events)
        in_flight -= 1
        worst = max(worst, now - sent_at)
        control.succeeded(ticket, now - sent_at)
        limits.append(control.limit)
        send()
    return {"ratio": requests / (now * slots / service_s), "worst_latency": worst, "max_limit": max(limits),
            "final_limit": limits[-1]}


def test_a_one_slot_server_is_kept_busy_with_a_short_queue() -> None:
    control = ConcurrencyLimit(32)
    run = run_slots_server(control, slots=1, service_s=0.2, requests=300)
    assert run["ratio"] >= 0.97
    # a fixed 32 would keep 31 waiting (6.4 s each); the limit found keeps the queue a few deep
    assert run["max_limit"] <= 8 and run["worst_latency"] <= 8 * 0.2 + 0.05


def test_a_sixteen_slot_server_gets_sixteen_and_more() -> None:
    run = run_slots_server(ConcurrencyLimit(32), slots=16, service_s=0.5, requests=1600)
    assert run["final_limit"] >= 16 and run["ratio"] >= 0.9   # ramp-up included


def test_a_fixed_limit_never_moves() -> None:
    control = ConcurrencyLimit(32, adaptive=False)
    run = run_slots_server(control, slots=1, service_s=0.2, requests=100)
    assert run["max_limit"] == run["final_limit"] == 32 and run["worst_latency"] >= 31 * 0.2


def healthy_window(control: ConcurrencyLimit, latency: float = 1.0) -> None:
    """One window of requests sent with every slot busy, each answered after `latency`."""
    tickets = [control.sent(control.limit, control.limit) for _ in range(control.window_size)]
    for t in tickets:
        control.succeeded(t, latency)


def test_slow_start_doubles_then_one_slot_at_a_time() -> None:
    control = ConcurrencyLimit(64)
    assert control.limit == INITIAL == 2
    for expected in (4, 8, 16):
        healthy_window(control)
        assert control.limit == expected
    control.gave_up(control.sent(16, 16), "timeout")
    assert control.limit == 8 and control.backing_off == "timeout"
    healthy_window(control)   # back toward 16 by half the gap
    assert control.limit == 12 and control.backing_off == ""
    for expected in (14, 15, 16, 17, 18):
        healthy_window(control)
        assert control.limit == expected


def test_no_growth_without_demand() -> None:
    control = ConcurrencyLimit(32)
    tickets = [control.sent(1, 1) for _ in range(control.window_size)]   # never more than one waiting
    for t in tickets:
        control.succeeded(t, 1.0)
    assert control.limit == INITIAL


def test_timeouts_halve_once_per_overload_and_never_below_one() -> None:
    control = ConcurrencyLimit(32, initial=32)
    early = [control.sent(32, 32) for _ in range(32)]
    control.gave_up(early[0], "timeout")
    for t in early[1:]:   # sent before the cut: the cut already answered them
        control.gave_up(t, "timeout")
    assert control.limit == 16
    for _ in range(10):
        control.gave_up(control.sent(control.limit, control.limit), "connection dropped")
    assert control.limit == 1


def test_one_refusal_is_retried_the_second_in_a_window_halves() -> None:
    control = ConcurrencyLimit(32, initial=16)
    control.refused(control.sent(16, 16), "HTTP 503")
    assert control.limit == 16 and control.backing_off == ""
    control.refused(control.sent(16, 16), "HTTP 503")
    assert control.limit == 8 and control.backing_off == "HTTP 503"


def test_queueing_latency_cuts_to_what_the_server_serves() -> None:
    control = ConcurrencyLimit(32, initial=4)
    control._slow_start = False   # past the ramp: one slot a window
    healthy_window(control, latency=1.0)          # 4 in flight: 1 s; grows to 5
    assert control.limit == 5
    healthy_window(control, latency=3.0)          # more in flight, 3× slower: queueing? hold first
    assert control.limit == 5
    healthy_window(control, latency=3.0)          # again: cut to 5 × 1/3, and one waiting
    assert control.limit == 2 and control.backing_off.startswith("latency 3.0×")


def test_slower_answers_at_the_same_load_are_not_queueing() -> None:
    control = ConcurrencyLimit(8, initial=8)
    for latency in (1.0, 3.0, 3.0, 3.0):   # at max already: every window at the same load
        healthy_window(control, latency)
    assert control.limit == 8 and control.backing_off == ""


def test_the_state_says_what_is_going_on() -> None:
    state = EndpointState("m at http://h/v1", ("referee",), in_flight=2, limit=3, max_limit=32, adaptive=True,
                          backing_off="HTTP 503", given_up=1)
    assert state.describe() == "in flight 2/3 (limit found by AIMD, max 32; backing off: HTTP 503; 1 given up)"
    fixed = EndpointState("m", ("teacher",), in_flight=32, limit=32, max_limit=32, adaptive=False)
    assert fixed.describe() == "in flight 32/32 (fixed limit)"


async def test_slots_follow_the_limit_in_arrival_order() -> None:
    control = ConcurrencyLimit(8, initial=2)
    slots = AdaptiveSlots(control)
    order: list[int] = []

    async def take(i: int) -> None:
        await slots.acquire()
        order.append(i)

    tasks = [asyncio.create_task(take(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert order == [0, 1] and slots.holding == 2
    control.limit = 4          # grew: the next release lets two more in
    slots.release()
    await asyncio.sleep(0.01)
    assert order == [0, 1, 2, 3, 4] and slots.holding == 4
    await asyncio.gather(*tasks)


# --- the engine against a one-slot `lion serve` -----------------------------------------------------


def engine(url: str, log: MemoryCallLog | None = None, **overrides: object) -> LLMEngine:
    return LLMEngine({"teacher": spec(url, **overrides)}, cache=MemoryCache(), call_log=log or MemoryCallLog(),
                     backoff_base_s=0.01)


@pytest.mark.parametrize("adaptive", [True, False])
async def test_a_fixed_32_times_out_on_a_one_slot_server_the_adaptive_engine_does_not(adaptive: bool) -> None:
    """32 requests, the server answers one at a time in 0.1 s each, timeout 1 s: all 32 sent at once
    wait up to 3.2 s in the server's queue."""
    log = MemoryCallLog()
    with loopback(slots=1, service_time_s=0.1) as url:
        async with engine(url, log, max_concurrency=32, timeout_s=1.0, max_retries=0,
                          adaptive_concurrency=adaptive) as eng:
            outcomes = await asyncio.gather(*(eng.chat("teacher", teacher_messages(f"q{i}")) for i in range(32)),
                                            return_exceptions=True)
            state = eng.state("teacher")
    failed = [o for o in outcomes if isinstance(o, ApiError)]
    billed = sum(r.possibly_billed for r in log.records)
    if adaptive:
        assert failed == [] and billed == 0 and state.given_up == 0
        assert state.adaptive and state.limit <= 8
    else:
        assert len(failed) >= 10 and all("no answer within timeout_s=1" in str(f) for f in failed)
        assert billed == len(failed) == state.given_up and state.limit == 32


async def test_the_timeout_counts_from_the_send_not_from_lions_queue() -> None:
    """One request at a time, the server answers each 0.5 s after it is sent, timeout 1 s: the fourth
    request waits 1.5 s in lion's own queue and still gets its answer."""
    log = MemoryCallLog()
    with loopback(slots=1, service_time_s=0.5) as url:
        async with engine(url, log, max_concurrency=1, timeout_s=1.0, max_retries=0,
                          adaptive_concurrency=False) as eng:
            t0 = time.monotonic()
            results = await asyncio.gather(*(eng.chat("teacher", teacher_messages(f"queued {i}")) for i in range(4)))
            elapsed = time.monotonic() - t0
    assert len(results) == 4 and elapsed >= 2.0 > 1.0
    assert all(r.ok and r.retries == 0 and not r.possibly_billed for r in log.records)


# --- possibly billed ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["timeout", "drop"])
async def test_a_request_given_up_on_after_sending_is_possibly_billed(fault: str) -> None:
    log = MemoryCallLog()
    with loopback(**{f"rate_{fault}": 1.0}, first_attempt_only=True, timeout_hold_s=30.0) as url:
        async with engine(url, log, timeout_s=0.5) as eng:
            await eng.chat("teacher", teacher_messages("Lost once."))
            state = eng.state("teacher")
    assert [r.possibly_billed for r in log.records] == [True, False]
    assert state.given_up == 1


async def test_a_request_that_never_reached_a_server_is_not_billed() -> None:
    log = MemoryCallLog()
    async with engine("http://127.0.0.1:9/v1", log, max_retries=1) as eng:   # nothing listens on port 9
        with pytest.raises(ApiError, match="connection failed"):
            await eng.chat("teacher", teacher_messages("Nobody home."))
    assert log.records and not any(r.possibly_billed for r in log.records)


def test_possibly_billed_is_counted_in_the_store_totals(tmp_path: Path) -> None:
    from dataclasses import replace

    from lion_cli.core.api import CallRecord
    from lion_cli.store.api_log import StoreCallLog
    from lion_cli.store.db import open_store
    from lion_cli.store.totals import read_totals

    base = CallRecord(ts=1.0, role="teacher", model="m", base_url="http://h/v1", cache_key="k", status=None,
                      ok=False, cached=False, latency_s=1.0, error="no answer within timeout_s=1", final=False)
    with open_store(tmp_path / "lion.db") as store:
        log = StoreCallLog(store)
        log.record(replace(base, possibly_billed=True))
        log.record(replace(base, possibly_billed=True, role="referee"))
        log.record(replace(base, status=200, ok=True, error=None, attempt=2, retries=1, final=True))
        totals = read_totals(store)
        assert store.scalar("SELECT SUM(possibly_billed) FROM api_calls") == 2
    assert totals.role("teacher").possibly_billed == 1 and totals.role("referee").possibly_billed == 1


# --- what the engine is doing: progress line, store, status ---------------------------------------


async def test_the_state_goes_to_its_log_at_most_once_a_second_and_at_close() -> None:
    states = MemoryEndpointStates()
    with loopback(latency_min=0.05, latency_max=0.05) as url:
        eng = LLMEngine({"teacher": spec(url), "referee": spec(url)}, endpoint_log=states, backoff_base_s=0.01)
        async with eng:
            t0 = time.monotonic()
            for i in range(30):
                await eng.chat("teacher" if i % 2 else "referee", teacher_messages(f"s{i}"))
            elapsed = time.monotonic() - t0
    [state] = states.latest.values()   # both roles call one endpoint: one state
    assert state.roles == ("referee", "teacher") and state.in_flight == 0 and state.completed == 30
    assert state.endpoint == f"test-model at {url}"
    assert 2 <= states.writes <= elapsed + 2   # a first one, then once a second, then the last word


def test_the_store_keeps_the_latest_state_per_endpoint(tmp_path: Path) -> None:
    from lion_cli.store.db import open_store
    from lion_cli.store.endpoint_state import StoreEndpointStates, endpoint_states

    first = EndpointState("m at http://h/v1 (KEY)", ("teacher", "referee"), 3, 4, 32, True, "HTTP 503",
                          completed=10, given_up=1, latency_s=1.5, best_latency_s=0.5, at=100.0)
    with open_store(tmp_path / "lion.db") as store:
        log = StoreEndpointStates(store)
        log.write(EndpointState("m at http://h/v1 (KEY)", ("teacher",), 1, 2, 32, True, at=99.0))
        log.write(first)
        assert endpoint_states(store) == [first]


def test_the_progress_line_shows_the_engine_state(tmp_path: Path) -> None:
    from lion_cli.core.types import Stage
    from lion_cli.pipeline.progress import StepProgress
    from lion_cli.store.db import open_store

    state = EndpointState("m", ("referee",), 2, 3, 32, True, backing_off="HTTP 503")
    out = io.StringIO()
    with open_store(tmp_path / "lion.db") as store:
        bar = StepProgress(store, 0, Stage.DISCRIMINATION, "referee", 10, stream=out, api=lambda: state)
        bar.advance(10)
    assert "in flight 2/3 (limit found by AIMD, max 32; backing off: HTTP 503)" in out.getvalue().splitlines()[-1]


# --- `lion serve --slots` ---------------------------------------------------------------------------


def test_lion_serve_slots_queue_requests_in_arrival_order() -> None:
    from lion_cli.server.process import running_server

    async def burst(url: str) -> float:
        async with httpx.AsyncClient(timeout=10) as client:
            t0 = time.monotonic()
            replies = await asyncio.gather(*(client.post(f"{url}/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": f"hi {i}"}]}) for i in range(4)))
            assert [r.status_code for r in replies] == [200] * 4
            return time.monotonic() - t0

    with running_server(backend="scripted", slots=1, service_time=0.25) as url:
        one_slot = asyncio.run(burst(url))
        served = stats(url)["slots"]
    assert one_slot >= 1.0 and served["slots"] == 1 and served["most_waiting"] == 3 and served["served"] == 4
    with loopback(slots=4, service_time_s=0.25) as url:
        four_slots = asyncio.run(burst(url))
    assert four_slots < 0.75


def test_lion_status_and_the_dashboard_show_the_engine_state(tmp_path: Path, lion_cli: Any) -> None:
    import json

    from tui_fixtures import CLOCK, build_known_project, screen_text

    from lion_cli.store.db import open_store
    from lion_cli.store.endpoint_state import StoreEndpointStates
    from lion_cli.tui.app import LionDashboard

    d = build_known_project(tmp_path / "k")
    state = EndpointState("gpt-x at http://h/v1 (KEY)", ("referee", "teacher"), 1, 2, 32, True,
                          backing_off="timeout", given_up=3, at=CLOCK - 5)
    with open_store(d / "lion.db") as store:
        StoreEndpointStates(store).write(state)
    as_json, text = lion_cli("status", str(d), "--json"), lion_cli("status", str(d))
    [shown] = json.loads(as_json.stdout)["endpoints"]
    assert shown["limit"] == 2 and shown["backing_off"] == "timeout" and shown["text"] == state.describe()
    assert f"gpt-x at http://h/v1 (KEY) (referee, teacher): {state.describe()}" in text.stdout

    async def first_screen() -> str:
        app = LionDashboard(d, clock=lambda: CLOCK, refresh_s=None)
        async with app.run_test(size=(200, 50)) as pilot:
            while app.refreshes < 1:
                await pilot.pause(0.02)
            await pilot.pause()
            return screen_text(app)

    assert "in flight 1/2 (limit found by AIMD, max 32; backing off: timeout; 3 given up)" in asyncio.run(
        first_screen())
