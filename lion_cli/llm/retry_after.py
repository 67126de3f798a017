"""Reading a server's instructions on when to come back, and our own backoff when it gives none."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping


def plain_seconds(text: str | None) -> float | None:
    """A bare number of seconds (never negative), or None when the text is absent or not one."""
    try:
        return max(0.0, float(text)) if text else None
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """`retry-after-ms` (OpenAI, Azure) wins over `Retry-After`, which is seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = (headers.get("retry-after") or "").strip()
    if (seconds := plain_seconds(raw)) is not None or not raw:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_seconds(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential in the attempt number with jitter, so clients that failed together spread out."""
    return min(max_s, base_s * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0)
