"""Which teacher replies are answers to train on.

An empty reply, or a short error message a gateway or server sent with HTTP 200 in place of an answer,
is not the teacher's answer: it is asked again with a fresh sample (another sample index, so another
request-cache key: a resume goes on to the next attempt instead of serving the empty one again) and is
never trained on. A reply cut off by max_tokens is kept, as the paper kept its teacher's answers, and
counted (status shows how many)."""

from __future__ import annotations

import re

# Attempts per instruction before it is marked failed (the item-failure mechanism shows it and
# `lion retry-failed` sends it again).
TEACHER_ATTEMPTS = 3
# Error bodies seen in place of answers: a JSON error object, "Error: …" / "Error 502 …", HTTP reason
# phrases. Anchored at the start and only for short replies, so an answer about errors is kept.
_ERROR_TEXT = re.compile(
    r"""^\s*(\{\s*"error"|error\s*[:\d(]|(\d{3}\s+)?(internal server error|bad gateway|service unavailable|"""
    r"""gateway time-?out|too many requests)\b)""", re.IGNORECASE)
_ERROR_TEXT_MAX_CHARS = 400


def unusable_answer(text: str) -> str | None:
    """Why a teacher reply is not an answer ("empty", "an error message"), or None when it is one."""
    body = text.strip()
    if not body:
        return "empty"
    if len(body) <= _ERROR_TEXT_MAX_CHARS and _ERROR_TEXT.match(body):
        return "an error message"
    return None
