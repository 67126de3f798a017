"""Library chatter off the user's terminal: progress bars and warnings that torch, transformers and
DeepSpeed print while lion builds or loads a model in its own process go to a log file instead
(`--verbose` keeps them on the terminal). Training and generation run as jobs whose output already
goes to their own logs; this covers what runs in lion's process.

The log file stays open for the life of the process: a library that set up its logging handler while
output was redirected (DeepSpeed binds its handler to sys.stdout at import) keeps writing to it."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_SINKS: dict[Path, TextIO] = {}


def _sink(path: Path) -> TextIO:
    if path not in _SINKS:
        path.parent.mkdir(parents=True, exist_ok=True)
        _SINKS[path] = path.open("a", encoding="utf-8", buffering=1)
    return _SINKS[path]


@contextlib.contextmanager
def library_output(log_path: Path, verbose: bool = False) -> Iterator[None]:
    """Inside the block, what libraries print (stdout and stderr) goes to `log_path`."""
    if verbose:
        yield
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    sink = _sink(log_path)
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def lion_command() -> str:
    """How to call lion again from where the user stands: `lion` when that is on PATH and is this
    lion, else the path this process was started by (or `python -m lion_cli`)."""
    started = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("lion")
    if on_path and started is not None and Path(on_path).resolve() == started:
        return "lion"
    if started is not None and started.name == "lion" and started.is_file():
        return str(started)
    return f"{sys.executable} -m lion_cli"
