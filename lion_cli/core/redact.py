"""Secrets out of text before it is printed, logged or stored: redact first, shorten after.

Shortening first is the leak this module exists to prevent: a 500-character cut through the middle
of an echoed key leaves its first part intact, and no later search for the whole key finds it. So
`redact` removes every known secret, every run of MIN_RUN or more characters taken from one (the
part of a key a server or a cut left behind), and strings shaped like credentials (a bearer token,
an `sk-…` key, `api_key=…`), and only then does `redact_and_cut` shorten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_RUN = 8       # a run this long copied from a key is treated as the key
MIN_SECRET = 4    # shorter "keys" (test stand-ins) are not searched for: they would match everywhere

# Credential shapes, whatever the key: "Bearer <token>", provider key prefixes, key=value pairs.
_SHAPES = [
    (re.compile(r"\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=\-]{8,}", re.I), r"\1\2" + REDACTED),
    (re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}|\b(?:sk|hf|gsk|ghp|gho|xai)_[A-Za-z0-9_]{8,}|"
                r"\bgithub_pat_\w{8,}|\bAIza[0-9A-Za-z_\-]{16,}|\bxai-[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"((?:api[_-]?key|access[_-]?token|auth[_-]?token|x-api-key|authorization|secret)[\"']?\s*[:=]\s*"
                r"[\"']?)(?!\[redacted\])[^\s\"'&,;}]{8,}", re.I), r"\1" + REDACTED),
    (re.compile(r"([?&](?:api[_-]?key|key|token|access_token|auth)=)[^&\s#\"']+", re.I), r"\1" + REDACTED),
]


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` and without any run of MIN_RUN+ characters copied from one.
    Only the known secrets: for data (an answer, a response body) where credential-shaped text that
    is not a key must stay as it is."""
    spans: list[tuple[int, int]] = []
    for secret in {s for s in secrets if s and len(s) >= MIN_SECRET}:
        runs = {secret[i:i + MIN_RUN] for i in range(len(secret) - MIN_RUN + 1)}
        pieces = runs if len(secret) >= MIN_RUN else {secret}
        for piece in pieces:
            at = text.find(piece)
            while at != -1:
                spans.append((at, at + len(piece)))
                at = text.find(piece, at + 1)
    if not spans:
        return text
    out, last = [], 0
    for start, end in _merged(spans):
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans joined: the runs of a key's pieces become one redaction."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` as it may be printed or stored: the known secrets (whole or in part) and anything
    shaped like a credential replaced by [redacted]."""
    text = redact_secrets(text, secrets)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_and_cut(text: str, secrets: Iterable[str], limit: int) -> str:
    """Redacted, then shortened to `limit` characters (with "…" when cut): never the other way round."""
    text = redact(text, secrets)
    return text[:limit] + "…" if len(text) > limit else text
