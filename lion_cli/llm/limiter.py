"""Per-endpoint pacing: requests-per-minute and tokens-per-minute token buckets, a concurrency cap,
and pauses ordered by the server (429, Retry-After, x-ratelimit-* headers).

Why the buckets look like this: a provider counts requests over a sliding minute. A bucket that
starts full would fire a minute's worth at t=0 and then 429 for a minute; so a bucket here holds
only a small burst (0.5 % of the limit, at least one unit), starts with just that, and refills
continuously at a rate trimmed by that burst, so that in ANY 60-second window it releases at most
burst + 60·rate < limit. Token costs are not known in advance: a call reserves an estimate
(core/api.py request_reservation: prompt chars/4 + max_tokens, as providers count it) and settles
with the real `usage` when it returns. So under a TPM limit the reservation, not the usage, sets how
many requests a minute go out (core/throughput.py says so in `lion status` and the dashboard).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from lion_cli.core.aimd import ConcurrencyLimit, EndpointState
from lion_cli.llm.adaptive import AdaptiveSlots, Flight
from lion_cli.llm.retry_after import plain_seconds

BURST_FRACTION = 0.005
HEADROOM = 0.998  # room for the send→arrival jitter between our clock and the server's window


class TokenBucket:
    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = max(1.0, per_minute * BURST_FRACTION)
        self.rate = max(per_minute - self.capacity, per_minute / 2) * HEADROOM / 60.0  # units per second
        self.level = self.capacity  # a small burst, never a full minute's worth
        self._clock = clock
        self._updated = clock()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
            self._updated = now

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until `amount` can be taken. A request larger than the burst waits for a full
        bucket and then goes into debt, which later refills pay back (throughput is unchanged)."""
        self._refill(now)
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill(self._clock())
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self._refill(self._clock())
        self.level = min(self.capacity, self.level + amount)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """x-ratelimit-reset-* values: '1s', '6m0s', '20ms', '1.5s', or plain seconds."""
    text = (text or "").strip()
    if (seconds := plain_seconds(text)) is not None or not text:
        return seconds
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


class EndpointLimiter:
    """Shared by every role that calls the same (base_url, model, key)."""

    def __init__(self, rpm: int, tpm: int, max_concurrency: int, *, adaptive: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.requests = TokenBucket(rpm, clock=clock)
        self.tokens = TokenBucket(tpm, clock=clock)
        self.max_concurrency = max_concurrency
        # How many of max_concurrency are let out at once: learned (core/aimd.py), or all of them.
        self.slots = AdaptiveSlots(ConcurrencyLimit(max_concurrency, adaptive=adaptive), clock)
        self._gate = asyncio.Lock()  # FIFO: waiters take from the buckets in arrival order
        self._clock = clock
        self.on_change: Callable[[], None] = lambda: None   # a request went out or ended
        self.paused_until = 0.0
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        """Hold every new request of this endpoint (a 429 means the whole key is over its limit).
        A little jitter keeps many clients from returning in the same instant."""
        if seconds <= 0:
            return
        until = self._clock() + seconds * random.uniform(1.0, 1.05)
        if until > self.paused_until:
            self.paused_until = until
            self.pauses += 1

    async def _take(self, est_tokens: int) -> None:
        async with self._gate:
            while True:
                now = self._clock()
                wait = max(self.paused_until - now, self.requests.wait_time(1, now),
                           self.tokens.wait_time(est_tokens, now))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self.requests.take(1)
            self.tokens.take(est_tokens)

    @asynccontextmanager
    async def slot(self, est_tokens: int) -> AsyncIterator[Flight]:
        """One HTTP attempt: a concurrency slot plus one request and `est_tokens` from the buckets. The
        caller marks the Flight sent when the request goes out and reports how it ended."""
        await self.slots.acquire()
        flight = Flight(self.slots)
        try:
            await self._take(est_tokens)
            self.on_change()
            yield flight
        finally:
            flight.end()
            self.slots.release()
            self.on_change()

    def state(self, endpoint: str, roles: tuple[str, ...]) -> EndpointState:
        """What this endpoint's requests are doing now (the progress line, the store, `lion status`)."""
        control = self.slots.control
        return EndpointState(
            endpoint=endpoint, roles=roles, in_flight=self.slots.on_wire, limit=control.limit,
            max_limit=control.max_limit, adaptive=control.adaptive, backing_off=control.backing_off,
            paused_s=max(0.0, self.paused_until - self._clock()), completed=self.slots.completed,
            given_up=self.slots.given_up, latency_s=control.latency_s, best_latency_s=control.best_latency_s)

    def refund(self, reserved: int) -> None:
        """An attempt that took its share from the buckets but was never sent."""
        self.requests.give_back(1)
        self.tokens.give_back(reserved)

    def settle(self, reserved: int, actual: int) -> None:
        if actual < reserved:
            self.tokens.give_back(reserved - actual)
        elif actual > reserved:
            self.tokens.take(actual - reserved)

    def observe(self, headers: Mapping[str, str], next_tokens: int) -> None:
        """Obey the server's own view: nothing left → wait for its reset instead of stampeding."""
        left_req = _int_header(headers, "x-ratelimit-remaining-requests")
        if left_req is not None and left_req <= 0:
            self.pause(parse_duration(headers.get("x-ratelimit-reset-requests")) or 1.0)
        left_tok = _int_header(headers, "x-ratelimit-remaining-tokens")
        if left_tok is not None and left_tok < next_tokens:
            self.pause(parse_duration(headers.get("x-ratelimit-reset-tokens")) or 1.0)
