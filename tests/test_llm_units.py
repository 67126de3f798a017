"""The pure parts of the API engine and server: request keys, cost, header parsing, buckets, faults."""

from __future__ import annotations

import email.utils
import time

import pytest

from lion_cli.core.api import EndpointSpec, cost, estimate_prompt_tokens, request_key
from lion_cli.llm.limiter import EndpointLimiter, TokenBucket, parse_duration
from lion_cli.llm.retry_after import backoff_seconds, retry_after_seconds
from lion_cli.llm.wire import parse_completion
from lion_cli.server.faults import FaultConfig, choose_fault, choose_latency
from lion_cli.server.window import SlidingWindow, fmt_duration

MSGS = [{"role": "user", "content": "Hello there"}]
SAMPLING = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 10}


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_request_key_is_stable_and_sensitive() -> None:
    k = request_key("http://x/v1", "m", MSGS, SAMPLING, 0)
    assert k == request_key("http://x/v1/", "m", [dict(m) for m in MSGS], dict(reversed(SAMPLING.items())), 0)
    variants = [request_key("http://y/v1", "m", MSGS, SAMPLING, 0), request_key("http://x/v1", "n", MSGS, SAMPLING, 0),
                request_key("http://x/v1", "m", [{"role": "user", "content": "Hello"}], SAMPLING, 0),
                request_key("http://x/v1", "m", MSGS, {**SAMPLING, "temperature": 0.2}, 0),
                request_key("http://x/v1", "m", MSGS, {**SAMPLING, "seed": 1}, 0),
                request_key("http://x/v1", "m", MSGS, SAMPLING, 1)]
    assert len({k, *variants}) == 7 and len(k) == 64


def test_cost_and_token_estimate() -> None:
    spec = EndpointSpec(base_url="http://x", model="m", price_input_per_1k=0.5, price_output_per_1k=1.5)
    assert cost(spec, 2000, 1000) == pytest.approx(2.5)
    assert estimate_prompt_tokens([{"role": "user", "content": "x" * 9}]) == 3


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1.5s", 1.5),
                                                ("2", 2.0), ("1h2m", 3720.0), ("soon", None), ("", None)])
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "3", "retry-after-ms": "250"}) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (retry_after_seconds({"retry-after": date}) or 0) <= 31
    assert retry_after_seconds({"retry-after": "whenever"}) is None and retry_after_seconds({}) is None
    waits = [backoff_seconds(n, 0.5, 8.0) for n in range(1, 8)]
    assert 0.25 <= waits[0] <= 0.5 and all(w <= 8.0 for w in waits) and waits[5] >= 4.0


def test_bucket_starts_small_and_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1200, clock=clock)
    assert bucket.capacity == 6 and bucket.level == 6  # 0.5 % of a minute, not the whole minute
    for _ in range(6):
        assert bucket.wait_time(1, clock.t) == 0
        bucket.take(1)
    assert bucket.wait_time(1, clock.t) == pytest.approx(1 / bucket.rate)
    # Over any 60 s the bucket releases at most capacity + 60·rate, which stays under the limit.
    assert bucket.capacity + 60 * bucket.rate < 1200
    assert bucket.rate * 60 > 1200 * 0.99


def test_large_requests_go_into_debt_and_refunds_return() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60_000, clock=clock)  # capacity 300, 998-ish tokens per second
    assert bucket.wait_time(1000, clock.t) == 0  # bigger than the burst: allowed once the bucket is full
    bucket.take(1000)
    assert bucket.level == pytest.approx(-700)
    assert bucket.wait_time(100, clock.t) == pytest.approx(800 / bucket.rate)
    bucket.give_back(500)
    assert bucket.level == pytest.approx(-200)


async def test_limiter_settles_and_obeys_headers() -> None:
    clock = FakeClock()
    lim = EndpointLimiter(600, 60_000, 4, clock=clock)
    lim.tokens.take(200)
    lim.settle(200, 50)
    assert lim.tokens.level == pytest.approx(lim.tokens.capacity - 50)
    lim.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}, 100)
    assert 2.0 <= lim.paused_until - clock.t <= 2.11
    lim.observe({"x-ratelimit-remaining-tokens": "40", "x-ratelimit-reset-tokens": "5s"}, 100)
    assert lim.paused_until - clock.t >= 5.0


def test_parse_completion_rejects_unusable_bodies() -> None:
    good = '{"choices":[{"message":{"content":"hi"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":4,' \
           '"completion_tokens":1}}'
    res = parse_completion(good, "m", 9)
    assert res is not None and res.text == "hi" and res.finish_reason == "content_filter" and res.prompt_tokens == 4
    for bad in ('{"choices": [', '{"choices": []}', "[]", '{"id": 1}', '{"choices": ["x"]}'):
        assert parse_completion(bad, "m", 9) is None
    no_usage = parse_completion('{"choices":[{"message":{"content":"abcdefgh"}}]}', "m", 9)
    assert no_usage is not None and (no_usage.prompt_tokens, no_usage.completion_tokens) == (9, 2)


def test_fault_choice_is_deterministic_and_near_its_rates() -> None:
    cfg = FaultConfig(rate_500=0.1, rate_drop=0.05, rate_length=0.05, fault_seed=3, latency_min=0.2, latency_max=1.5)
    picks = [choose_fault(cfg, f"h{i}", 1) for i in range(4000)]
    assert picks == [choose_fault(cfg, f"h{i}", 1) for i in range(4000)]
    assert abs(picks.count("500") / 4000 - 0.1) < 0.02 and abs(picks.count("drop") / 4000 - 0.05) < 0.015
    other_seed = [choose_fault(FaultConfig(rate_500=0.1, fault_seed=4), f"h{i}", 1) for i in range(400)]
    assert other_seed != picks[:400]
    lat = [choose_latency(cfg, f"h{i}", 1) for i in range(1000)]
    assert min(lat) >= 0.2 and max(lat) <= 1.5 and 0.75 < sum(lat) / 1000 < 0.95
    first_only = FaultConfig(rate_500=1.0, first_attempt_only=True)
    assert choose_fault(first_only, "h", 1) == "500" and choose_fault(first_only, "h", 2) is None


@pytest.mark.parametrize("bad", [{"rate_500": 0.7, "rate_503": 0.5}, {"rate_drop": -0.1},
                                 {"latency_min": 2.0, "latency_max": 1.0}])
def test_fault_config_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**bad)  # type: ignore[arg-type]


def test_sliding_window() -> None:
    win = SlidingWindow(3, 60.0)
    for t in (0.0, 10.0, 20.0):
        assert win.admits(1, t)
        win.add(1, t)
    assert not win.admits(1, 30.0) and win.remaining(30.0) == 0
    assert win.wait_for(1, 30.0) == pytest.approx(30.0) and win.reset_in(30.0) == pytest.approx(30.0)
    assert win.admits(1, 60.0) and win.remaining(60.0) == 1
    assert (fmt_duration(0.25), fmt_duration(1.5), fmt_duration(360)) == ("250ms", "1.5s", "6m0s")
