"""What loading a base-model folder found, remembered while its files stay the same.

Loading a config and tokenizer with transformers costs seconds (it imports torch) and the answer
changes only when the folder's files or the installed transformers/tokenizers do; so a folder that
loaded is recorded under a fingerprint of exactly those, and `lion check` / `lion run` skip the
load until one of them changes. Failures are never recorded: a folder that was fixed is looked at
again. The record lives in lion's cache folder ($LION_CACHE_DIR, else ~/.cache/lion), never in a
project.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

CACHE_FILE = "checked-models.json"
KEPT = 200
# The files AutoConfig and AutoTokenizer read; weights are not loaded by the check.
MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "tokenizer.model", "vocab.json", "vocab.txt", "merges.txt",
               "added_tokens.json", "chat_template.jinja", "chat_template.json")


def cache_dir() -> Path:
    root = os.environ.get("LION_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "lion"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def folder_fingerprint(folder: Path) -> str:
    parts: list[Any] = [str(folder.resolve()), _version("transformers"), _version("tokenizers")]
    for name in MODEL_FILES:
        with contextlib.suppress(OSError):
            st = (folder / name).stat()
            parts.append([name, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _records() -> dict[str, Any]:
    try:
        data = json.loads((cache_dir() / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recall(folder: Path) -> dict[str, Any] | None:
    found = _records().get(folder_fingerprint(folder))
    return found if isinstance(found, dict) else None


def remember(folder: Path, facts: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written only means the next check loads again."""
    records = _records()
    records[folder_fingerprint(folder)] = facts
    for stale in list(records)[:-KEPT]:  # the oldest first: dicts keep insertion order
        del records[stale]
    path = cache_dir() / CACHE_FILE
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{CACHE_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(records), encoding="utf-8")
        os.replace(tmp, path)
