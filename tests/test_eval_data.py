"""Benchmark files: pinned hashes, the cache, and the download path (served from 127.0.0.1, no internet)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lion_cli.eval.data import DataError, load_items, resolve, sha256_file
from lion_cli.eval.pins import PINS, SOURCES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
REL = "bbh/navigate.json"


def test_every_pin_matches_the_shared_copy() -> None:
    assert len(PINS) == 27 + 8 + 2
    for rel, (source, _, sha) in PINS.items():
        assert source in SOURCES and sha256_file(DATA / rel) == sha, rel


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static server laid out like raw.githubusercontent.com/<repo>/<commit>/<path>."""
    root = tmp_path / "upstream"
    repo, commit = SOURCES["bbh"]
    dest = root / repo / commit / PINS[REL][1]
    dest.parent.mkdir(parents=True)
    shutil.copy(DATA / REL, dest)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", dest
    finally:
        server.shutdown()
        server.server_close()


def test_download_into_the_cache_then_reuse(upstream: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = upstream
    cache = tmp_path / "cache"
    path = resolve(REL, cache_dir=cache, base_url=url)
    assert path == cache / REL and sha256_file(path) == PINS[REL][2]
    # Second call: served from the cache (the server is not needed any more).
    assert resolve(REL, cache_dir=cache, base_url="http://127.0.0.1:9") == path
    assert len(load_items("bbh", "navigate", cache_dir=cache)) == 250


def test_tampered_download_is_refused_and_not_cached(upstream: tuple[str, Path], tmp_path: Path) -> None:
    url, served = upstream
    served.write_bytes(served.read_bytes().replace(b'"target": "No"', b'"target": "Yes"', 1))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="does not match the pinned"):
        resolve(REL, cache_dir=cache, base_url=url)
    assert not (cache / REL).exists() and not list((cache / "bbh").iterdir())


def test_modified_local_copy_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bbh").mkdir()
    (tmp_path / REL).write_bytes((DATA / REL).read_bytes() + b"\n")
    with pytest.raises(DataError, match=r"navigate\.json: SHA-256"):
        resolve(REL, tmp_path)
    with pytest.raises(DataError, match="not found"):
        resolve("bbh/snarks.json", tmp_path)


def test_unreachable_source_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pass --data-dir"):
        resolve(REL, cache_dir=tmp_path, base_url="http://127.0.0.1:9")
