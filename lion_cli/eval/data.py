"""Finding the benchmark files: a folder the user names, else lion's cache, else a pinned download.

Every file is checked against its pinned SHA-256 (pins.py) before use, wherever it came from: a
benchmark number is only comparable when the data is byte for byte the published one. Downloads
go to a temporary file and are renamed into the cache only after the hash matches, so a cut or
tampered download never lands in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from lion_cli.core.bench_tasks import BenchItem, agieval_items, bbh_items
from lion_cli.eval.pins import PINS, raw_url


class DataError(Exception):
    """A missing, unreadable or wrong-hash data file; the message names the file and the fix."""


def default_cache_dir() -> Path:
    """`$LION_CACHE_DIR/data`, else `~/.cache/lion/data`."""
    root = os.environ.get("LION_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lion") / "data"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, rel: str) -> None:
    """Raise DataError unless `path` has the pinned hash of `rel`."""
    expected = PINS[rel][2]
    got = sha256_file(path)
    if got != expected:
        raise DataError(f"{path}: SHA-256 {got} does not match the pinned {expected} for {rel} "
                        "(a modified or different version of the dataset; lion refuses it so that "
                        "results stay comparable)")


def download(rel: str, dest: Path, *, base_url: str = "https://raw.githubusercontent.com",
             timeout_s: float = 60.0) -> Path:
    """Fetch `rel` from its pinned upstream URL into `dest`, verifying the hash before the rename."""
    source, upstream_path, _ = PINS[rel]
    url = raw_url(source, upstream_path, base_url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url}", file=sys.stderr, flush=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            while block := resp.read(1 << 20):
                out.write(block)
        verify(tmp, rel)
        os.replace(tmp, dest)
    except OSError as exc:
        raise DataError(f"{rel}: download from {url} failed ({exc}); pass --data-dir with a local copy") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def resolve(rel: str, data_dir: Path | None = None, *, cache_dir: Path | None = None,
            base_url: str = "https://raw.githubusercontent.com") -> Path:
    """The verified local path of benchmark file `rel` (e.g. "bbh/navigate.json")."""
    if rel not in PINS:
        raise DataError(f"{rel}: not a known benchmark file")
    if data_dir is not None:
        path = data_dir / rel
        if not path.is_file():
            raise DataError(f"{path}: not found (--data-dir must hold bbh/, agieval/ and vicuna/ as upstream)")
        verify(path, rel)
        return path
    path = (cache_dir or default_cache_dir()) / rel
    if path.is_file():
        verify(path, rel)
        return path
    return download(rel, path, base_url=base_url)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read as JSON: {exc}") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: not valid JSON: {exc.msg}") from None
    return rows


def load_examples(benchmark: str, task: str, data_dir: Path | None = None, **kw: Any) -> list[dict[str, Any]]:
    """The rows of one BBH or AGIEval task as the verified file holds them."""
    if benchmark == "bbh":
        data = _read_json(resolve(f"bbh/{task}.json", data_dir, **kw))
        examples = data.get("examples") if isinstance(data, dict) else None
        if not isinstance(examples, list):
            raise DataError(f"bbh/{task}.json: expected an object with an 'examples' list")
        return examples
    if benchmark == "agieval":
        return read_jsonl(resolve(f"agieval/{task}.jsonl", data_dir, **kw))
    raise DataError(f"unknown benchmark {benchmark!r}; expected bbh or agieval")


def load_items(benchmark: str, task: str, data_dir: Path | None = None, **kw: Any) -> list[BenchItem]:
    """All items of one BBH or AGIEval task, from verified files."""
    if benchmark == "bbh":
        return bbh_items(task, _read_json(resolve(f"bbh/{task}.json", data_dir, **kw)))
    if benchmark == "agieval":
        return agieval_items(task, read_jsonl(resolve(f"agieval/{task}.jsonl", data_dir, **kw)))
    raise DataError(f"unknown benchmark {benchmark!r}; expected bbh or agieval")


def load_vicuna_questions(data_dir: Path | None = None, **kw: Any) -> list[dict[str, Any]]:
    """The 80 questions: {question_id, text, category}."""
    return read_jsonl(resolve("vicuna/question.jsonl", data_dir, **kw))


def load_vicuna_reference(data_dir: Path | None = None, **kw: Any) -> dict[int, str]:
    """gpt-3.5-turbo's stored answers (the paper's ChatGPT reference), by question_id."""
    rows = read_jsonl(resolve("vicuna/answer/answer_gpt35.jsonl", data_dir, **kw))
    return {int(r["question_id"]): str(r["text"]) for r in rows}
