"""The training scripts' progress lines: on stderr (the job log), from rank 0 only, so a run of N
processes says each thing once."""

from __future__ import annotations

import os
import sys


def log(msg: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"[train] {msg}", file=sys.stderr, flush=True)
