"""How many requests an endpoint is sent at once: found while it runs, within `max_concurrency`.

A server that answers one request at a time (llama.cpp with one slot) queues the rest; with 32 in
flight, each waits for 31 others and the client's timeout fires on answers the server still
produces (and a paid API bills). So the limit is learned, additive increase / multiplicative decrease:

- it starts low (INITIAL) and doubles after each healthy window while nothing has gone wrong yet
  (slow start), then grows one slot per healthy window;
- a window is the next WINDOW requests sent at the current limit (half as many during slow start,
  so that the ramp takes fewer round trips), judged once every one of them has finished (judging
  on the first answers back would measure only the fastest). Its latency is the mean of the
  middle half: answer lengths make single latencies vary, and one very long answer must not read
  as queueing. It is healthy when that latency stays within TOLERANCE × the recent best (the
  lowest of the last MEMORY windows) and the limit was reached (more requests waiting than slots:
  otherwise a larger limit would change nothing);
- latency well above the recent best two windows in a row, at more requests in flight than that
  best was measured at, means queueing at the server: the limit drops to what the ratio says the
  server serves at once (limit × best / latency) plus one waiting, so that the server never idles
  between answers. Slower answers at the same or a lower load are the server's or the answers'
  own doing (longer replies, other clients), not a reason to cut;
- a timeout or a dropped connection halves it, and so does a second 429 or 503 within a window
  (hosted APIs send the odd one whatever the load). One cut per overload: requests sent before a
  cut report what the cut already answered. After such a cut the limit climbs back toward where
  it was by half the gap each healthy window, faster than one slot at a time;
- never below 1.

Pure: the caller reports each request's outcome with the ticket `sent()` gave it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

INITIAL = 2
WINDOW = 8
TOLERANCE = 2.5
MEMORY = 8
REFUSALS_TO_CUT = 2
SLOW_WINDOWS_TO_CUT = 2


@dataclass(frozen=True, slots=True)
class Ticket:
    """One request's place: its send order, and the window it measures (-1: none)."""

    seq: int
    window: int


@dataclass(frozen=True)
class EndpointState:
    """What the engine is doing with one endpoint (the limit key): for the progress line, the store,
    `lion status` and the dashboard."""

    endpoint: str               # "model at base_url (KEY_VAR)", credentials never included
    roles: tuple[str, ...]
    in_flight: int
    limit: int
    max_limit: int
    adaptive: bool
    backing_off: str = ""       # why the limit was last cut, until it grows again ("" = not backing off)
    paused_s: float = 0.0       # the server asked us to wait (429, Retry-After) this much longer
    completed: int = 0          # answered requests
    given_up: int = 0           # attempts given up on after sending them (possibly billed)
    latency_s: float | None = None   # of the latest window (mean of its middle half)
    best_latency_s: float | None = None
    at: float = 0.0             # unix time of this reading

    def describe(self) -> str:
        """`in flight 2/3 (limit found by AIMD, max 32; backing off: HTTP 503)`."""
        how = f"limit found by AIMD, max {self.max_limit}" if self.adaptive else "fixed limit"
        parts = [how]
        if self.backing_off:
            parts.append(f"backing off: {self.backing_off}")
        if self.paused_s > 0:
            parts.append(f"paused {self.paused_s:.0f}s by the server")
        if self.given_up:
            parts.append(f"{self.given_up} given up")
        return f"in flight {self.in_flight}/{self.limit} ({'; '.join(parts)})"


class ConcurrencyLimit:
    """The limit of one endpoint. Every `sent()` is followed by exactly one outcome call."""

    def __init__(self, max_limit: int, *, adaptive: bool = True, initial: int = INITIAL, window: int = WINDOW,
                 tolerance: float = TOLERANCE, memory: int = MEMORY) -> None:
        self.max_limit = max(1, max_limit)
        self.adaptive = adaptive
        self.limit = min(self.max_limit, max(1, initial)) if adaptive else self.max_limit
        self.window_size = max(1, window)
        self.tolerance = tolerance
        self.backing_off = ""
        self.latency_s: float | None = None
        self._recent: deque[tuple[float, int]] = deque(maxlen=max(1, memory))   # (latency, load)
        self._sent = 0           # requests sent so far (their seq)
        self._cut_seq = 0        # requests sent before this one were answered by the last cut
        self._slow_start = True
        self._recover_to = 0     # the limit before the last hard cut, climbed back to quickly
        self._window = 0
        self._slow_windows = 0   # windows in a row whose latency read as queueing
        self._open = self._done = self._load = self._refusals = 0
        self._samples: list[float] = []
        self._saturated = False
        self._new_window()

    @property
    def best_latency_s(self) -> float | None:
        best = self._best()
        return best[0] if best else None

    @property
    def _window_target(self) -> int:
        """Requests per window: half as many while ramping up, so the ramp takes half the round trips."""
        return max(1, self.window_size // 2) if self._slow_start else self.window_size

    def _best(self) -> tuple[float, int] | None:
        """The recent best (latency, load): the fastest of the recent windows."""
        return min(self._recent) if self._recent else None

    def sent(self, on_wire: int, holding: int) -> Ticket:
        """A request goes out. `on_wire`: requests sent and not yet answered, this one included (the
        load the server sees); `holding`: requests holding a slot, those still waiting for the rate
        limit included (all slots held = more demand than the limit lets through)."""
        self._sent += 1
        if holding >= self.limit:
            self._saturated = True
        if self._open < self._window_target:
            self._open += 1
            self._load = max(self._load, on_wire)
            return Ticket(self._sent, self._window)
        return Ticket(self._sent, -1)

    def succeeded(self, ticket: Ticket, latency_s: float) -> None:
        """The answer came back `latency_s` after the request was sent."""
        self._finish(ticket, latency_s)

    def failed(self, ticket: Ticket) -> None:
        """No answer, for a reason that says nothing about load (a 500, a malformed body, a 400)."""
        self._finish(ticket, None)

    def gave_up(self, ticket: Ticket, reason: str) -> None:
        """Timed out or lost its connection after it was sent: halve at once (each one may be billed,
        and a queue deep enough to time out is the failure this limit exists for)."""
        if self.adaptive and ticket.seq > self._cut_seq:
            self._hard_cut(reason)
        self._finish(ticket, None)

    def refused(self, ticket: Ticket, reason: str) -> None:
        """A 429 or a 503: the second within one window halves."""
        if self.adaptive and ticket.seq > self._cut_seq:
            self._refusals += 1
            if self._refusals >= REFUSALS_TO_CUT:
                self._hard_cut(reason)
        self._finish(ticket, None)

    def _finish(self, ticket: Ticket, latency_s: float | None) -> None:
        if not self.adaptive or ticket.window != self._window:
            return
        self._done += 1
        if latency_s is not None:
            self._samples.append(latency_s)
        if self._done >= self._window_target:
            self._judge_window()

    def _judge_window(self) -> None:
        if not self._samples:
            self._new_window()
            return
        latency = middle_mean(self._samples)
        best = self._best()
        self._recent.append((latency, self._load))
        self.latency_s = latency
        queueing = best is not None and best[0] > 0 and latency > self.tolerance * best[0] and self._load > best[1]
        self._slow_windows = self._slow_windows + 1 if queueing else 0
        if queueing and self._slow_windows >= SLOW_WINDOWS_TO_CUT:
            assert best is not None
            # What the server works on at once, by the ratio, and one more waiting at the server so
            # that it never idles between an answer and our next request.
            target = int(self.limit * best[0] / latency) + 1
            self._cut(max(1, min(self.limit - 1, target)), f"latency {latency / best[0]:.1f}× the recent best",
                      recover_to=0)
        elif self._saturated and not queueing:
            self._grow()
        else:
            self._new_window()

    def _grow(self) -> None:
        if self._slow_start:
            new = self.limit * 2
        elif self.limit < self._recover_to:
            new = self.limit + max(1, (self._recover_to - self.limit) // 2)
        else:
            new = self.limit + 1
        new = min(new, self.max_limit)
        if new != self.limit:
            self.limit = new
            self.backing_off = ""
        self._new_window()

    def _hard_cut(self, reason: str) -> None:
        # Where to climb back to: an overload in a long healthy run must not lower it for good.
        self._cut(max(1, self.limit // 2), reason, recover_to=max(self.limit, int(self._recover_to * 0.9)))

    def _cut(self, new: int, reason: str, *, recover_to: int) -> None:
        self._slow_start = False
        self._recover_to = recover_to
        self.backing_off = reason
        self.limit = new
        self._cut_seq = self._sent
        self._slow_windows = 0
        self._new_window()

    def _new_window(self) -> None:
        """Measuring starts again with the next request sent (those in flight belong to no window)."""
        self._window += 1
        self._open = 0           # requests sent into this window
        self._done = 0           # of which finished
        self._samples = []
        self._load = 0           # the most requests in flight when one of them was sent
        self._saturated = False  # the limit was reached while it was open
        self._refusals = 0       # 429/503s since it opened


def middle_mean(values: list[float]) -> float:
    """The mean of the middle half (the interquartile mean): steadier than the median on a few
    values, and one outlier at either end does not move it."""
    ordered = sorted(values)
    cut = len(ordered) // 4
    middle = ordered[cut:len(ordered) - cut] or ordered
    return sum(middle) / len(middle)
