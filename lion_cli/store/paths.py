"""Paths in the store are relative to the project folder (the one holding lion.db), so a project
that is copied or moved keeps working where it now is and never reaches back into where it was.

Writes go through `stored_path` (a path inside the project becomes relative, one outside stays
absolute: a base model in /models does not move with the project); reads go through `read_path`,
which resolves a relative value against the folder of the store being read. Absolute values from
stores written before this rule are read as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lion_cli.store.db import Store

# The keys of a job spec (student/specs) that hold paths.
SPEC_PATH_KEYS = ("model_path", "data_path", "output_dir", "input_path", "output_path", "strategy")


def project_dir(store: Store) -> Path | None:
    return None if store.path is None else Path(store.path).resolve().parent


def stored_path(store: Store, path: str | Path) -> str:
    """`path` as the store keeps it: relative (POSIX) when inside the project folder."""
    root = project_dir(store)
    value = Path(path).expanduser()
    if root is None or not value.is_absolute():
        return str(path)
    for candidate in (Path(os.path.normpath(value)), value.resolve()):  # as written, then without links
        if candidate.is_relative_to(root):
            return candidate.relative_to(root).as_posix()
    return str(path)


def read_path(store: Store, value: str) -> str:
    """A stored path as an absolute one, in the project folder of this store."""
    root = project_dir(store)
    path = Path(value)
    if root is None or path.is_absolute():
        return value
    return str(root / path)


def edited_json_object(text: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """`text`, a JSON object, with `edit` applied to it; any other text as it is."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        edit(value)
        return json.dumps(value, indent=2, sort_keys=True)
    return text


def stored_spec_json(store: Store, spec_json: str) -> str:
    """A job spec's JSON with its paths inside the project made relative."""
    def relative(spec: dict[str, Any]) -> None:
        for key in SPEC_PATH_KEYS:
            if isinstance(spec.get(key), str) and Path(spec[key]).is_absolute():
                spec[key] = stored_path(store, spec[key])

    return edited_json_object(spec_json, relative)
