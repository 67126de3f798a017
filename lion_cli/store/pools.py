"""Instructions and pool membership."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from lion_cli.core.seeds import first_by_content
from lion_cli.core.types import Instruction, Origin, Pool, SeedItem, content_hash, content_hashes
from lion_cli.store.db import Store, foreign_keys_off

BULK_CACHE_KIB = -65536  # 64 MiB while seeds are imported (negative: KiB, SQLite's convention)
# the indexes a fresh store's seed fill drops and builds after (see _indexes_built_after)
FRESH_INSTRUCTION_INDEXES = ("instructions_content_hash", "instructions_origin")
FRESH_MEMBER_INDEXES = ("pool_members_instruction",)


def _row_to_instruction(r: object) -> Instruction:
    return Instruction(r["id"], r["text"], r["input"], Origin(r["origin"]), r["iteration"],  # type: ignore[index]
                       r["parent_id"])  # type: ignore[index]


def import_seeds(store: Store, items: Sequence[SeedItem], project_name: str,
                 hashes: Sequence[str] | None = None) -> int:
    """Insert seeds as iteration-0 Train and Cache Pool members, in one transaction (`hashes`: each
    item's content_hash, from a caller whose items are distinct already, as SeedParse's are). Plain
    executemany statements: a 52K-row seed file goes in about as fast as SQLite writes it (sqlite-utils'
    per-chunk work cost seconds there)."""
    if hashes is None:  # by content, first one kept: a repeated item is one pool member
        unique = first_by_content(content_hashes(items), items)
        hashes, items = list(unique), list(unique.values())
    fresh = store.scalar("SELECT NOT EXISTS (SELECT 1 FROM instructions)") == 1
    cache_pages = store.scalar("PRAGMA cache_size")
    store.conn.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")  # the hash index's pages stay in memory
    try:
        # Foreign keys off on a fresh store: every pool row's id is selected from instructions in the
        # same transaction, so checking each of them again costs time and finds nothing.
        with foreign_keys_off(store.conn, fresh), store.tx() as c:
            _insert_seeds(store, c, hashes, items, project_name, fresh)
    finally:
        store.conn.execute(f"PRAGMA cache_size = {int(cache_pages)}")
    return len(hashes)


@contextmanager
def _indexes_built_after(c: sqlite3.Connection, names: Sequence[str]) -> Iterator[None]:
    """The named indexes dropped, then built again from their own definitions once the rows are in:
    SQLite builds an index over sorted keys, where filling it row by row lands at random pages (random
    content hashes). Inside the caller's transaction: an index that cannot be built (a duplicate under
    a UNIQUE one) rolls the whole fill back."""
    definitions = [r[0] for r in c.execute(
        f"SELECT sql FROM sqlite_master WHERE type='index' AND name IN ({','.join('?' * len(names))})", names)]
    for name in names:
        c.execute(f"DROP INDEX {name}")
    yield
    for sql in definitions:
        c.execute(sql)


def _insert_seeds(store: Store, c: sqlite3.Connection, hashes: Sequence[str], items: Sequence[SeedItem],
                  project_name: str, fresh: bool) -> None:
    """`fresh`: the store held no instruction when import_seeds looked (one decision for the foreign keys
    and the fill)."""
    c.execute("INSERT INTO project (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name=excluded.name",
              (project_name,))
    c.execute("INSERT OR IGNORE INTO iterations (iteration) VALUES (0)")
    # On a fresh store the seeds (distinct by hash already) are all there is: every index they fill is
    # built after; the instructions' ones before the pool rows, which are selected through the origin index.
    with _indexes_built_after(c, FRESH_MEMBER_INDEXES if fresh else ()):
        with _indexes_built_after(c, FRESH_INSTRUCTION_INDEXES if fresh else ()):
            _insert_instructions(store, c, hashes, items)
        if fresh:  # the store holds exactly these seeds now: their ids from the small origin index, not the rows
            members = ("INSERT INTO pool_members (iteration, pool, instruction_id)"
                       f" SELECT 0, ?, id FROM instructions WHERE origin='{Origin.SEED.value}'")
        else:      # picked out by hash among what was there
            c.execute("CREATE TEMP TABLE IF NOT EXISTS seed_hashes (content_hash TEXT PRIMARY KEY)")
            c.execute("DELETE FROM temp.seed_hashes")
            c.executemany("INSERT OR IGNORE INTO temp.seed_hashes VALUES (?)", ((h,) for h in hashes))
            members = ("INSERT OR REPLACE INTO pool_members (iteration, pool, instruction_id) SELECT 0, ?, i.id"
                       " FROM instructions i JOIN temp.seed_hashes USING (content_hash)")
        # in the table's key order ('cache' before 'train'): each pool's rows then go in at the end of the
        # key, where SQLite appends, instead of the Cache Pool's in front of the Train Pool's
        for pool in sorted((Pool.TRAIN, Pool.CACHE), key=lambda p: p.value):
            c.execute(members, (pool.value,))


def _insert_instructions(store: Store, c: sqlite3.Connection, hashes: Sequence[str], items: Sequence[SeedItem]
                         ) -> None:
    # created_at as the column's default has it, worked out once and written into the statement: the
    # default runs strftime for every row (a third of the insert), and a parameter costs a bind per row.
    now = str(store.scalar("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"))
    c.executemany("INSERT OR IGNORE INTO instructions (content_hash, text, input, seed_output, origin,"
                  f" iteration, created_at) VALUES (?, ?, ?, ?, '{Origin.SEED.value}', 0, '{now}')",
                  zip(hashes, *zip(*items, strict=True), strict=True))  # hash, instruction, input, output: in C


def _add_members(store: Store, iteration: int, pool: Pool, ids: Iterable[int]) -> None:
    # replace, not ignore: every column is the key, so the two are the same here. A plain
    # executemany: the Cache Pool is tens of thousands of rows every stage.
    store.conn.executemany("INSERT OR REPLACE INTO pool_members (iteration, pool, instruction_id) VALUES (?, ?, ?)",
                           ((iteration, pool.value, i) for i in ids))


def add_instruction(store: Store, text: str, input_text: str, origin: Origin, iteration: int,
                    parent_id: int | None = None, tokens: str | None = None) -> int:
    """Insert (or find) an instruction by content; returns its id. Call inside a transaction."""
    h = content_hash(text, input_text)
    store.conn.execute(
        "INSERT OR IGNORE INTO instructions (content_hash, text, input, origin, parent_id, iteration, tokens)"
        " VALUES (?,?,?,?,?,?,?)", (h, text, input_text, origin.value, parent_id, iteration, tokens))
    return int(store.scalar("SELECT id FROM instructions WHERE content_hash=?", (h,)))


def set_pool(store: Store, iteration: int, pool: Pool, ids: Iterable[int]) -> None:
    """Replace an iteration's pool membership with exactly `ids`."""
    with store.tx() as c:
        c.execute("DELETE FROM pool_members WHERE iteration=? AND pool=?", (iteration, pool.value))
        _add_members(store, iteration, pool, ids)


def carry_pool(store: Store, pool: Pool, from_iteration: int, to_iteration: int, more: Iterable[int]) -> None:
    """Set `to_iteration`'s pool to `from_iteration`'s members plus `more`, copied inside SQLite (the
    Cache Pool is tens of thousands of rows)."""
    with store.tx() as c:
        c.execute("DELETE FROM pool_members WHERE iteration=? AND pool=?", (to_iteration, pool.value))
        c.execute("INSERT OR REPLACE INTO pool_members (iteration, pool, instruction_id)"
                  " SELECT ?, pool, instruction_id FROM pool_members WHERE iteration=? AND pool=?",
                  (to_iteration, from_iteration, pool.value))
        _add_members(store, to_iteration, pool, more)


def pool_ids(store: Store, iteration: int, pool: Pool) -> list[int]:
    return [r[0] for r in store.query(
        "SELECT instruction_id FROM pool_members WHERE iteration=? AND pool=? ORDER BY instruction_id",
        (iteration, pool.value))]


def pool_texts(store: Store, iteration: int, pool: Pool) -> list[tuple[int, str, str | None]]:
    """(id, text, cached ROUGE-L tokens or None) of a pool's members in id order, in one query: the
    Cache Pool is tens of thousands of rows every generation stage."""
    return [(r[0], r[1], r[2]) for r in store.query(
        "SELECT i.id, i.text, i.tokens FROM pool_members m JOIN instructions i ON i.id = m.instruction_id"
        " WHERE m.iteration=? AND m.pool=? ORDER BY m.instruction_id", (iteration, pool.value))]


def get_instructions(store: Store, ids: Sequence[int]) -> list[Instruction]:
    return [_row_to_instruction(r) for r in store.query_in(
        "SELECT * FROM instructions WHERE id IN ({marks}) ORDER BY id", ids)]


def pool_size(store: Store, iteration: int, pool: Pool) -> int:
    return int(store.scalar("SELECT COUNT(*) FROM pool_members WHERE iteration=? AND pool=?",
                            (iteration, pool.value)))
