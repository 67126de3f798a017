"""The scripts' JSONL files: input rows read with the file and line of any problem, output rows
written whole or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lion_cli.student.specs import SpecError


def read_jsonl(path: Path, error: type[SpecError] = SpecError) -> list[tuple[str, Any]]:
    """("file:line", value) for each non-blank line; a line that is not JSON raises `error` naming it."""
    found: list[tuple[str, Any]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                found.append((where, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise error(f"{where}: not valid JSON ({exc.msg})") from None
    return found


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write the rows through a temporary sibling and rename it into place: a reader never sees half
    a file, and a killed writer leaves no stale output that could pass for a result."""
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count
