"""What lion writes inside a project folder, so that `lion init --force` clears exactly that.

Written by lion, derived from the project, and cleared when the project is replaced:
- lion.db with its -wal, -shm and -journal files (the store; replaced by the new one);
- students/: the loop's jobs (training data, checkpoints, final weights, student answers, logs);
- evals/: `lion eval`'s work folders; run.log: `lion run --tui`'s output;
- demo-server.json: how `lion resume` restarts a demo's local server (`lion demo` writes it anew);
- .lion-init-*: the temporary folder of an interrupted `lion init`;
- every job output folder and export the old store recorded inside the project folder
  (`lion student train --out`, `lion export delta|data --out`).

Everything else is the user's and is kept: lion.toml is rewritten in place, and a seed file, a base
model, a DeepSpeed config or notes put in the folder are never touched. A file the new settings
name inside one of the folders above would be lost, so `lion init --force` refuses that instead.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from lion_cli.cli.common import CONFIG_NAME, DB_NAME

DEMO_RECORD = "demo-server.json"
INIT_TEMP_PREFIX = ".lion-init-"
STORE_FILES = tuple(DB_NAME + suffix for suffix in ("-wal", "-shm", "-journal"))
DERIVED = ("students", "evals", "run.log", DEMO_RECORD)


def _recorded_outputs(db_path: Path) -> list[Path]:
    """What the old store says its commands wrote; nothing when it cannot be read."""
    from lion_cli.store.db import open_store
    from lion_cli.store.outputs import written_paths

    try:
        with open_store(db_path, readonly=True) as store:
            return written_paths(store)
    except (OSError, sqlite3.Error):
        return []


def derived_paths(directory: Path) -> list[Path]:
    """The paths under `directory` that lion wrote for the project there now (existing ones only)."""
    keep = {directory, directory / CONFIG_NAME, directory / DB_NAME}
    found = [directory / name for name in (*DERIVED, *STORE_FILES)]
    found += directory.glob(INIT_TEMP_PREFIX + "*")
    for path in _recorded_outputs(directory / DB_NAME):
        # Only inside the project, and never the folder, its config or its store (or a folder above them).
        if path.is_relative_to(directory) and not any(k.is_relative_to(path) for k in keep):
            found.append(path)
    return sorted({p for p in found if p.exists() or p.is_symlink()})


def in_the_way(derived: list[Path], named: dict[str, Path]) -> list[str]:
    """`key: path` for each path the new project names that clearing `derived` would remove."""
    return [f"{key} ({path}) lies in {d}, which lion wrote for the project being replaced"
            for key, path in named.items() for d in derived if path.resolve().is_relative_to(d.resolve())]


def clear(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
