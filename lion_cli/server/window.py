"""The server's rate limits: requests and tokens counted over a sliding window (a minute by default),
as providers do, answering how much is left and when room frees up."""

from __future__ import annotations

import math
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._entries: deque[tuple[float, int]] = deque()
        self.used = 0

    def _prune(self, now: float) -> None:
        while self._entries and self._entries[0][0] <= now - self.window_s:
            self.used -= self._entries.popleft()[1]

    def admits(self, amount: int, now: float) -> bool:
        self._prune(now)
        return self.used + amount <= self.limit

    def add(self, amount: int, at: float) -> None:
        if amount > 0:
            self._entries.append((at, amount))
            self.used += amount

    def remaining(self, now: float) -> int:
        self._prune(now)
        return max(0, self.limit - self.used)

    def wait_for(self, amount: int, now: float) -> float:
        """Seconds until `amount` more fits (0 if it fits now)."""
        self._prune(now)
        excess = self.used + amount - self.limit
        if excess <= 0:
            return 0.0
        freed = 0
        for t, n in self._entries:
            freed += n
            if freed >= excess:
                return max(0.0, t + self.window_s - now)
        return self.window_s

    def reset_in(self, now: float) -> float:
        """Seconds until the oldest counted unit leaves the window (the next bit of room)."""
        self._prune(now)
        return max(0.0, self._entries[0][0] + self.window_s - now) if self._entries else 0.0


def fmt_duration(seconds: float) -> str:
    """OpenAI's x-ratelimit-reset-* style: '850ms', '1.5s', '6m0s'."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    m, s = divmod(seconds, 60)
    return f"{int(m)}m{s:.0f}s"
