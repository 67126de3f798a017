"""A seed import into a fresh store drops two indexes and turns foreign keys off for its fill (speed):
afterwards the store must be exactly as a row-by-row import leaves it (same schema, the indexes enforcing
what they did, foreign keys on), and a failed import must leave the store as it was. Also for speed:
duplicates dropped with one dict() (the first of repeats still kept) and the garbage collector paused."""

from __future__ import annotations

import gc
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.seed_fast import plain_alpaca_items
from lion_cli.core.seeds import SeedError, SeedParse, decode_seed_bytes, parse_seed_bytes, parse_seed_text, seed_parse
from lion_cli.core.types import Pool, SeedItem, content_hash
from lion_cli.store.bulk import collector_paused
from lion_cli.store.db import Store, open_store
from lion_cli.store.pools import import_seeds, pool_ids

NOW = "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"  # the created_at columns' default


def schema(store: Store) -> list[tuple[str, str]]:
    return [(r[0], r[1] or "") for r in store.query("SELECT name, sql FROM sqlite_master ORDER BY name")]


def settings(store: Store) -> tuple[int, int]:
    return int(store.scalar("PRAGMA foreign_keys")), int(store.scalar("PRAGMA cache_size"))


def test_a_fresh_import_leaves_the_schema_and_settings_as_they_were(tmp_path: Path) -> None:
    with open_store(tmp_path / "empty.db") as empty:
        expected = schema(empty)
    with open_store(tmp_path / "lion.db") as store:
        before, started = settings(store), store.scalar(NOW)
        assert import_seeds(store, [SeedItem(f"Task {i}.", "ctx" if i % 2 else "") for i in range(300)], "p") == 300
        assert schema(store) == expected
        assert settings(store) == before == (1, before[1])
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # created_at as the column's default writes it: the import's moment, in the default's format
        [stamp] = {r[0] for r in store.query("SELECT created_at FROM instructions")}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp) and started <= stamp <= store.scalar(NOW)
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            store.conn.execute("INSERT INTO instructions (content_hash, text, origin, iteration) VALUES (?, 'x',"
                               " 'seed', 0)", (content_hash("Task 4.", ""),))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            store.conn.execute("INSERT INTO pool_members (iteration, pool, instruction_id) VALUES (0, 'train', 999)")
        plan = " ".join(r[3] for r in store.query(
            "EXPLAIN QUERY PLAN SELECT * FROM pool_members WHERE instruction_id=5"))
        assert "pool_members_instruction" in plan
        # a second import finds the seeds by hash among what is there (foreign keys checked all along)
        assert import_seeds(store, [SeedItem("Task 0."), SeedItem("A new one.")], "p") == 2
        assert len(pool_ids(store, 0, Pool.TRAIN)) == len(pool_ids(store, 0, Pool.CACHE)) == 301


def test_a_failed_fresh_import_leaves_nothing_and_the_settings_back(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        expected, before = schema(store), settings(store)
        bad = [SeedItem("Fine."), SeedItem(["not", "text"])]  # type: ignore[arg-type]  # SQLite cannot bind it
        with pytest.raises(sqlite3.Error, match="binding"):
            import_seeds(store, bad, "p", hashes=["h1", "h2"])
        assert schema(store) == expected and settings(store) == before
        assert store.scalar("SELECT COUNT(*) FROM instructions") == 0
        assert store.scalar("SELECT COUNT(*) FROM project") == 0
        assert import_seeds(store, [SeedItem("Fine.")], "p") == 1  # and the store takes a good import after


def test_the_first_of_repeated_seeds_is_kept_in_first_seen_order() -> None:
    raw = [SeedItem("A.", output="first a"), SeedItem("B."), SeedItem("A.", output="second a"),
           SeedItem("B.", "ctx"), SeedItem("B.", output="second b")]
    parsed = seed_parse(raw, "seeds.json", "json")
    assert parsed.items == [raw[0], raw[1], raw[3]] and parsed.duplicates == 2
    assert parsed.hashes == [content_hash("A."), content_hash("B."), content_hash("B.", "ctx")]
    distinct = raw[:2]
    assert seed_parse(distinct, "seeds.json", "json").items == distinct


def test_the_collector_is_paused_for_a_bulk_read_and_back_after() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a bad seed file")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


PLAIN = [{"instruction": " Do it. ", "input": "now", "output": "Done. "}, {"instruction": "Two.", "extra": [1]},
         {"instruction": "Do it.", "input": "now", "output": "a repeat"}]
ODD = [{"instruction": "   "}, {"input": "no instruction"}, {"instruction": 5}, {"instruction": None},
       {"instruction": "None is no input", "input": None}, {"instruction": "x", "output": 3}, ["not", "a dict"],
       "a string", {"instruction": "x", "instances": [{"input": "", "output": ""}]},
       {"instruction": "x", "instances": None},
       {"instruction": "x", "conversations": []}, {"instruction": "x", "messages": None}]


def _file(records: list[Any], fmt: str) -> bytes:
    text = json.dumps(records, indent=2) if fmt == "json" else "".join(json.dumps(r) + "\n" for r in records)
    return text.encode()


def _outcome(parse: Callable[[], SeedParse]) -> SeedParse | str:
    try:
        return parse()
    except SeedError as exc:
        return str(exc)


def _both_ways(data: bytes, where: str) -> tuple[SeedParse | str, SeedParse | str]:
    """(what lion's reading of the bytes gives, what the general parser gives)."""
    return (_outcome(lambda: parse_seed_bytes(data, where)),
            _outcome(lambda: parse_seed_text(decode_seed_bytes(data, where), where)))


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_the_fast_path_makes_what_the_general_parser_makes(fmt: str) -> None:
    data = _file(PLAIN, fmt)
    assert plain_alpaca_items(data, fmt) is not None  # the fast path is the one taken here
    fast, general = _both_ways(data, f"seeds.{fmt}")
    assert fast == general and isinstance(fast, SeedParse)
    assert fast.items == [SeedItem("Do it.", "now", "Done."), SeedItem("Two.")] and fast.duplicates == 1
    assert all(type(item) is SeedItem for item in fast.items) and fast.fmt == fmt


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("odd", ODD, ids=lambda odd: repr(odd)[:30])
def test_one_record_the_fast_path_cannot_take_goes_to_the_general_parser(odd: Any, fmt: str) -> None:
    data = _file([*PLAIN, odd], fmt)
    assert plain_alpaca_items(data, fmt) is None
    fast, general = _both_ways(data, f"seeds.{fmt}")
    assert fast == general


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf" + _file(PLAIN, "json"),                  # a byte-order mark
    _file(PLAIN, "json").replace(b'"extra": [', b'"extra": [NaN, '),  # json.loads takes NaN, msgspec does not
    b'{"instruction": "a \xe2\x80\xa8 line separator in a string"}\n',  # U+2028: one JSON Lines record
    b'[{"instruction": "bad \xff byte"}]',                           # not UTF-8
    b'[{"instruction": "raw NUL \x00"}]',
    b'{\n  "instruction": "pretty-printed"\n}\n{\n  "instruction": "records"\n}\n',  # not JSON Lines
    b'{"instruction": "two"} {"instruction": "on a line"}\n',
    b'{"instruction": "a"}\r{"instruction": "bare CR"}\r',
    b'{"instruction": "a"}\n  \n\r\n\n{"instruction": "blank lines between"}',
    b'[{"instruction": "a", "note": "caf\xe9"}]',                   # bad UTF-8 in a field lion skips
    b'{"instruction": "a", "\xff": 1}\n',                           # ... and in a key
    b'[{"instruction": "a", "x": 1' + b"0" * 5000 + b'}]',          # past int()'s 4,300 digits
    b'[{"instruction": "a", "x": ' + b"[" * 3000 + b"]" * 3000 + b'}]',  # nested past the recursion limit
], ids=["bom", "nan", "u2028", "not-utf8", "nul", "pretty-jsonl", "two-on-a-line", "bare-cr", "blank-lines",
        "latin1-skipped-field", "bad-key", "big-int", "deep"])
def test_files_the_fast_path_leaves_alone_read_as_the_general_parser_reads_them(data: bytes) -> None:
    fast, general = _both_ways(data, "seeds.jsonl" if data.startswith(b"{") else "seeds.json")
    assert fast == general


def test_lion_init_reads_and_writes_the_seeds_with_the_collector_paused(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import lion_cli.seeds_io.read
    import lion_cli.store.pools
    from lion_cli.cli.init import init_project

    seen: list[tuple[str, bool]] = []

    def watching(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, gc.isenabled()))
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(lion_cli.seeds_io.read, "read_seeds", watching("read", lion_cli.seeds_io.read.read_seeds))
    monkeypatch.setattr(lion_cli.store.pools, "import_seeds", watching("import", lion_cli.store.pools.import_seeds))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Name a colour.\nSum 2 and 2.\n", encoding="utf-8")
    assert init_project(tmp_path / "proj", seeds)["seeds"] == 2
    assert seen == [("read", False), ("import", False)] and gc.isenabled()
