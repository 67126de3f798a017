"""A seed import into a fresh store drops two indexes and turns foreign keys off for its fill (speed):
afterwards the store must be exactly as a row-by-row import leaves it (same schema, the indexes enforcing
what they did, foreign keys on), and a failed import must leave the store as it was. Also for speed:
duplicates dropped with one dict() (the first of repeats still kept) and the garbage collector paused."""

from __future__ import annotations

import gc
import re
import sqlite3
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.seed_records import _new_item, items_from_records
from lion_cli.core.seeds import seed_parse
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


def test_the_plain_alpaca_items_equal_the_dataclass_made_ones() -> None:
    made = _new_item("Do it.", "now", "Done.")
    assert made == SeedItem("Do it.", "now", "Done.") and type(made) is SeedItem
    assert [getattr(made, f.name) for f in fields(SeedItem)] == ["Do it.", "now", "Done.", 0]  # every field set
    with pytest.raises(AttributeError):
        made.instruction = "changed"  # type: ignore[misc]  # still frozen
    [item], _ = items_from_records([{"instruction": " Do it. ", "input": "now", "output": "Done. "}], str)
    assert item == made


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
