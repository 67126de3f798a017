"""The store's forward-only migrations on real SQLite files: a blank DB gets the expected schema, a
second migrate is a no-op, a DB left at an older step upgrades to exactly the fresh schema, a failing
step leaves nothing behind, and `lion db status|migrate` report the ledger."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lion_cli.store.db import (
    PAGE_SIZE,
    Migration,
    _split_sql,
    applied_migrations,
    available_migrations,
    connect,
    migrate,
    open_store,
)

# The tables the whole loop needs (DESIGN.md §5) and a few columns each must have.
EXPECTED_COLUMNS: dict[str, set[str]] = {
    "project": {"id", "name", "created_at"},
    "runs": {"id", "status", "pid", "settings_json", "lion_version"},
    "run_lock": {"pid", "host", "heartbeat_at"},
    "iterations": {"iteration", "status", "student_path"},
    "stages": {"iteration", "stage", "status", "step", "done", "total", "detail_json"},
    "instructions": {"id", "content_hash", "text", "input", "seed_output", "origin", "parent_id", "iteration",
                     "tokens"},
    "pool_members": {"iteration", "pool", "instruction_id"},
    "responses": {"instruction_id", "role", "model", "settings_hash", "iteration", "text", "finish_reason"},
    "judgements": {"instruction_id", "iteration", "order_name", "attempt", "teacher_score", "student_score",
                   "parse_error", "raw_text"},
    "labels": {"iteration", "instruction_id", "gap", "label", "order_flip"},
    "candidates": {"iteration", "slot", "kind", "seed_instruction_id", "accepted", "reject_reason", "max_rouge"},
    "request_cache": {"key", "role", "model", "response_json", "cost_usd"},
    "api_calls": {"role", "model", "status", "latency_s", "prompt_tokens", "completion_tokens", "cost_usd",
                  "retries"},
    "train_jobs": {"id", "kind", "status", "spec_json"},
    "train_metrics": {"job_id", "step", "loss"},
    "eval_results": {"benchmark", "task", "accuracy"},
    "eval_samples": {"result_id", "idx"},
    "events": {"ts", "level", "message"},
    "schema_migrations": {"name", "applied_at"},
}
# Uniqueness the resume logic relies on: the same unit of work can never be stored twice.
EXPECTED_UNIQUE = {
    "responses": ("instruction_id", "role", "model", "settings_hash"),
    "judgements": ("instruction_id", "iteration", "order_name", "attempt"),
    "candidates": ("iteration", "slot"),
    "instructions": ("content_hash",),
}


def schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Every table, index and trigger with its SQL: two stores with equal schemas give equal lists."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")]


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def unique_sets(conn: sqlite3.Connection, table: str) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for idx in conn.execute(f"PRAGMA index_list({table})"):
        if idx[2]:  # unique (includes primary keys and UNIQUE constraints)
            out.add(tuple(r[2] for r in conn.execute(f"PRAGMA index_info('{idx[1]}')")))
    return out


def test_blank_db_gets_the_expected_schema(tmp_path: Path) -> None:
    path = tmp_path / "lion.db"
    with open_store(path) as store:
        conn = store.conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert set(EXPECTED_COLUMNS) <= tables
        for table, cols in EXPECTED_COLUMNS.items():
            assert cols <= columns(conn, table), (table, cols - columns(conn, table))
        for table, key in EXPECTED_UNIQUE.items():
            assert key in unique_sets(conn, table), table
        names = [m.name for m in available_migrations()]
        assert names == sorted(names) and names[0] == "0001_initial"
        assert applied_migrations(conn) == names
        # the pragmas every open sets
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        # foreign keys are enforced, not just declared
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO pool_members (iteration, pool, instruction_id) VALUES (0, 'train', 999)")


def test_a_new_store_gets_the_larger_page_size_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    with open_store(tmp_path / "new.db") as store:
        assert store.scalar("PRAGMA page_size") == PAGE_SIZE != 4096
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size = 4096")
    old.execute("CREATE TABLE made_by_someone_else (x)")  # the file exists now, with 4 KiB pages
    old.close()
    with open_store(tmp_path / "old.db") as store:
        assert store.scalar("PRAGMA page_size") == 4096
        assert store.scalar("SELECT COUNT(*) FROM instructions") == 0  # migrated and usable all the same


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "lion.db"
    with open_store(path) as store:
        store.conn.execute("INSERT INTO project (id, name) VALUES (1, 'keep')")
        first = schema(store.conn)
        ledger = [tuple(r) for r in store.conn.execute("SELECT name, applied_at FROM schema_migrations")]
    with open_store(path) as store:  # every open migrates: nothing is pending
        assert migrate(store.conn) == []
        assert schema(store.conn) == first
        assert [tuple(r) for r in store.conn.execute("SELECT name, applied_at FROM schema_migrations")] == ledger
        assert store.scalar("SELECT name FROM project") == "keep"


def test_older_db_upgrades_to_the_same_schema(tmp_path: Path) -> None:
    steps = available_migrations()
    assert len(steps) >= 2, "this test needs at least two migrations"
    fresh = tmp_path / "fresh.db"
    with open_store(fresh) as store:
        expected = schema(store.conn)

    old = tmp_path / "old.db"
    conn = connect(old)
    assert migrate(conn, steps[:1]) == [steps[0].name]  # a store written by an older lion
    conn.execute("INSERT INTO project (id, name) VALUES (1, 'old')")
    conn.execute("INSERT INTO instructions (content_hash, text, origin, iteration) VALUES ('h', 'Do it.', 'seed', 0)")
    assert schema(conn) != expected
    conn.close()

    with open_store(old) as store:
        assert applied_migrations(store.conn) == [m.name for m in steps]
        assert schema(store.conn) == expected
        assert store.scalar("SELECT text FROM instructions") == "Do it."  # data survives the upgrade


def test_a_failing_step_is_rolled_back_whole(tmp_path: Path) -> None:
    conn = connect(tmp_path / "lion.db")
    good = Migration("0001_a", "CREATE TABLE a (x INTEGER);")
    bad = Migration("0002_b", "CREATE TABLE b (y INTEGER);\nINSERT INTO a VALUES (1);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        migrate(conn, [good, bad])
    assert applied_migrations(conn) == ["0001_a"]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "b" not in tables  # the failing step's first statement was undone too
    assert conn.execute("SELECT COUNT(*) FROM a").fetchone()[0] == 0
    fixed = Migration("0002_b", "CREATE TABLE b (y INTEGER);")
    assert migrate(conn, [good, fixed]) == ["0002_b"]
    conn.close()


def test_sql_splitting_keeps_semicolons_inside_strings() -> None:
    script = ("-- a comment; with a semicolon\nCREATE TABLE t (x TEXT DEFAULT 'a;b');\n\n"
              "INSERT INTO t VALUES ('it''s; fine');\n-- trailing comment\n")
    assert _split_sql(script) == ["CREATE TABLE t (x TEXT DEFAULT 'a;b');", "INSERT INTO t VALUES ('it''s; fine');"]


def test_readonly_open_never_creates_or_migrates(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no lion store"):
        open_store(tmp_path / "none.db", readonly=True)
    assert not (tmp_path / "none.db").exists()
    old = tmp_path / "old.db"
    conn = connect(old)
    migrate(conn, available_migrations()[:1])
    conn.close()
    with open_store(old, readonly=True) as store:
        assert applied_migrations(store.conn) == [available_migrations()[0].name]


def test_lion_db_status_and_migrate(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    names = [m.name for m in available_migrations()]
    conn = connect(tmp_path / "lion.db")
    migrate(conn, available_migrations()[:1])
    conn.close()
    result = lion_cli("db", "status", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"name": n, "applied": n == names[0]} for n in names]
    result = lion_cli("db", "status", str(tmp_path))
    assert result.stdout.splitlines() == [f"{'applied' if n == names[0] else 'pending':8} {n}" for n in names]

    result = lion_cli("db", "migrate", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"applied {n}" for n in names[1:]]
    assert lion_cli("db", "migrate", str(tmp_path)).stdout.strip() == "up to date"
    assert all(r["applied"] for r in json.loads(lion_cli("db", "status", str(tmp_path), "--json").stdout))

    empty = tmp_path / "empty"
    empty.mkdir()
    result = lion_cli("db", "status", str(empty))
    assert result.exit_code == 2 and "no lion store" in result.stderr


def test_lion_db_status_lists_the_tables(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    with open_store(tmp_path / "lion.db") as store, store.tx() as c:
        c.execute("INSERT INTO events (ts, message) VALUES (1, 'a'), (2, 'b')")
    result = lion_cli("db", "status", str(tmp_path), "--tables", "--json")
    assert result.exit_code == 0, result.stderr
    tables = {t["name"]: t for t in json.loads(result.stdout)}
    assert set(EXPECTED_COLUMNS) | {"api_usage", "schema_migrations"} <= set(tables)
    assert not any(name.startswith("sqlite_") for name in tables)
    assert tables["events"]["rows"] == 2 and tables["instructions"]["rows"] == 0
    assert tables["events"]["columns"] == 7
    text = lion_cli("db", "status", str(tmp_path), "--tables").stdout
    assert any(line.split()[:2] == ["events", "2"] for line in text.splitlines())


def test_read_only_commands_on_a_store_from_an_older_lion_say_how_to_upgrade(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    """`lion status` and `lion plan` never migrate (they run beside a live run); on a store an older lion
    wrote they would read tables and columns that are not there yet, so they name the upgrade instead."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Name a colour.\n", encoding="utf-8")
    project = tmp_path / "proj"
    assert lion_cli("init", str(project), "--seed", str(seeds)).exit_code == 0
    steps = available_migrations()
    (project / "lion.db").unlink()
    conn = connect(project / "lion.db")
    migrate(conn, steps[:-1])   # the store as the lion before the newest migration left it
    conn.close()
    for command in ("status", "plan"):
        result = lion_cli(command, str(project))
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert steps[-1].name in result.stderr and f"lion db migrate {project}" in result.stderr, result.stderr
    assert lion_cli("db", "migrate", str(project)).exit_code == 0
    assert lion_cli("status", str(project)).exit_code == 0
