"""The line of a failed job's log that says what went wrong, for lion to print instead of the log.

A job's log holds its launcher's noise around the cause: torchrun's banner, its own traceback ending in
ChildFailedError and a failure summary, each rank's copy of the same error. The cause is the first
exception a rank raised (for a chained exception, the first traceback printed is the root cause) or
the `error: ...` line an entry script prints for a spec it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# torchrun can prefix each worker line with its rank ("[rank0]: ", "[default1]:"); one traceback per prefix.
_RANK_PREFIX = re.compile(r"^\[(?:rank|default)?\d+\]:\s?")
_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::|$)")
# Exceptions that only report that something else failed: the launchers' own, never the cause.
_WRAPPERS = ("ChildFailedError", "SignalException", "CalledProcessError", "KeyboardInterrupt", "SystemExit")
SCAN_BYTES = 4 << 20  # a long log's cause is near its end: read at most its last 4 MiB


def first_error(lines: Iterable[str]) -> str | None:
    """The first root-cause error line in a job's log lines, or None when there is none."""
    in_traceback: set[str] = set()
    for raw in lines:
        line = raw.rstrip("\r\n")
        match = _RANK_PREFIX.match(line)
        rank = match.group(0).strip() if match else ""
        text = line[match.end():] if match else line
        if text.startswith("error: "):
            return text.removeprefix("error: ").strip()
        if text.startswith(_TRACEBACK):
            in_traceback.add(rank)
            continue
        if rank not in in_traceback or not text or text[0].isspace():
            continue  # outside a traceback, or one of its frames
        in_traceback.discard(rank)
        name = text.split(":", 1)[0]
        if _EXCEPTION.match(text) and not name.endswith(_WRAPPERS):
            return text.strip()
    return None


def first_error_in(log_path: Path) -> str | None:
    """first_error over the log file (its last SCAN_BYTES); None when it cannot be read."""
    try:
        with open(log_path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - SCAN_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return first_error(text.splitlines())
