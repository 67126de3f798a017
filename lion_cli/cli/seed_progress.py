"""Progress of a seed import on stderr: quiet for a file read in a moment, a line now and then for a big one."""

from __future__ import annotations

import time

from lion_cli.cli.common import err

QUIET_S = 1.0      # an import done within this prints nothing
EVERY_S = 2.0      # then at most one line this often


class SeedProgress:
    def __init__(self, source: str) -> None:
        self.source = source
        self.started = time.monotonic()
        self.last_line: float | None = None
        self.count = 0

    def rows(self, count: int) -> None:
        """Called by the parser every few thousand rows. A count below one already heard is not shown: the
        general parser starts again from 0 where the fast path gave up on a file half-way."""
        if count <= self.count:
            return
        self.count = count
        now = time.monotonic()
        if now - self.started < QUIET_S or (self.last_line is not None and now - self.last_line < EVERY_S):
            return
        self.last_line = now
        err(f"reading {self.source}: {count:,} rows ({now - self.started:.0f} s)")

    def done(self, total: int) -> None:
        """After the last row; said only when a line was shown before (the next step writes the store)."""
        if self.last_line is not None:
            err(f"read {self.source}: {total:,} rows in {time.monotonic() - self.started:.1f} s; writing lion.db")
