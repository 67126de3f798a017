"""Migration 0017 rebuilds `instructions` (its content-hash uniqueness becomes a named index) under
foreign keys that other tables hold on it: a populated store written at 0016 keeps every row of every
table, every id and every reference; a store whose references are already broken is refused whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lion_cli.store.db import applied_migrations, available_migrations, connect, migrate, open_store

REBUILD = "0017_instructions_hash_index"

# Rows in every table that references instructions(id), ids not in insertion order: the rebuild must
# keep them as they are (a fresh numbering would point the references elsewhere).
POPULATED_0016 = [
    "INSERT INTO project (id, name) VALUES (1, 'old')",
    "INSERT INTO iterations (iteration) VALUES (0), (1)",
    "INSERT INTO instructions (id, content_hash, text, input, seed_output, origin, iteration, tokens)"
    " VALUES (7, 'h7', 'Name a colour.', '', 'Red.', 'seed', 0, 'name colour')",
    "INSERT INTO instructions (id, content_hash, text, origin, iteration) VALUES (3, 'h3', 'Sum 2 and 2.', 'seed', 0)",
    "INSERT INTO instructions (id, content_hash, text, input, origin, parent_id, iteration)"
    " VALUES (12, 'h12', 'Name two colours.', 'warm ones', 'hard', 7, 1)",
    "INSERT INTO pool_members (iteration, pool, instruction_id) VALUES (0, 'train', 7), (0, 'cache', 3),"
    " (1, 'cache', 12)",
    "INSERT INTO responses (instruction_id, role, model, settings_hash, iteration, text)"
    " VALUES (7, 'teacher', 't', 's', 0, 'Red.')",
    "INSERT INTO judgements (instruction_id, iteration, order_name, referee_model, raw_text)"
    " VALUES (7, 0, 'teacher_first', 'r', '8 3')",
    "INSERT INTO labels (iteration, instruction_id, label) VALUES (0, 7, 'hard')",
    "INSERT INTO candidates (iteration, slot, kind, seed_instruction_id, instruction_id, raw_text, text)"
    " VALUES (0, 0, 'hard', 7, 12, 'raw', 'Name two colours.')",
    "INSERT INTO item_failures (role, item_key, iteration, stage, model, reason, instruction_id)"
    " VALUES ('teacher', 'k', 0, 'teacher', 't', 'timeout', 3)",
    "INSERT INTO online_samples (iteration, round, instruction_id, sample, seed, model_path, text)"
    " VALUES (1, 0, 12, 0, 1, 'm', 'two')",
]


def store_at_0016(path: Path, statements: list[str]) -> None:
    conn = connect(path)
    migrate(conn, [m for m in available_migrations() if m.name < REBUILD])
    for sql in statements:
        conn.execute(sql)
    conn.close()


def every_row(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        " AND name != 'schema_migrations' ORDER BY name")]
    return {t: sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {t}")), key=repr) for t in tables}


def schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 2")]


def test_a_populated_0016_store_migrates_with_every_row_and_reference(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    store_at_0016(old, POPULATED_0016)
    conn = connect(old)
    before = every_row(conn)
    conn.close()
    assert sum(map(len, before.values())) >= 15
    with open_store(tmp_path / "fresh.db") as fresh:
        expected_schema = schema(fresh.conn)

    with open_store(old) as store:
        conn = store.conn
        assert REBUILD in applied_migrations(conn)
        assert every_row(conn) == before
        assert schema(conn) == expected_schema
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # the runner turned them back on
        indexes = {r[1]: r[2] for r in conn.execute("PRAGMA index_list(instructions)")}
        assert indexes.get("instructions_content_hash") == 1 and "instructions_origin" in indexes
        with pytest.raises(sqlite3.IntegrityError):   # still one row per content
            conn.execute("INSERT INTO instructions (content_hash, text, origin, iteration)"
                         " VALUES ('h7', 'x', 'seed', 0)")
        with pytest.raises(sqlite3.IntegrityError):   # and references into the rebuilt table still enforced
            conn.execute("INSERT INTO pool_members (iteration, pool, instruction_id) VALUES (1, 'train', 99)")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("DELETE FROM instructions WHERE id = 7")
        assert conn.execute("SELECT parent_id FROM instructions WHERE id = 12").fetchone()[0] == 7


def test_a_store_with_a_broken_reference_is_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store_at_0016(path, ["PRAGMA foreign_keys = OFF", POPULATED_0016[2],
                         "INSERT INTO pool_members (iteration, pool, instruction_id) VALUES (0, 'train', 404)"])
    with pytest.raises(sqlite3.IntegrityError, match="1 broken references, first in table pool_members"):
        open_store(path)
    conn = connect(path)
    assert REBUILD not in applied_migrations(conn)
    assert "UNIQUE" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'instructions'").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM instructions").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()
