"""Instructions and pool membership."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lion_cli.core.types import Instruction, Origin, Pool, SeedItem, content_hash
from lion_cli.store.db import Store


def _row_to_instruction(r: object) -> Instruction:
    return Instruction(r["id"], r["text"], r["input"], Origin(r["origin"]), r["iteration"],  # type: ignore[index]
                       r["parent_id"])  # type: ignore[index]


def import_seeds(store: Store, items: Sequence[SeedItem], project_name: str) -> int:
    """Insert seeds as iteration-0 Train and Cache Pool members, in one transaction."""
    seeds: dict[str, SeedItem] = {}   # by content, first one kept: a repeated item is one pool member
    for it in items:
        seeds.setdefault(content_hash(it.instruction, it.input), it)
    with store.tx():
        store.db.table("project").upsert({"id": 1, "name": project_name}, pk="id")
        store.db.table("iterations").insert({"iteration": 0}, ignore=True)
        store.db.table("instructions").insert_all(
            ({"content_hash": h, "text": it.instruction, "input": it.input, "seed_output": it.output,
              "origin": Origin.SEED.value, "iteration": 0} for h, it in seeds.items()), ignore=True)
        by_hash = {r[0]: r[1] for r in store.query_in(
            "SELECT content_hash, id FROM instructions WHERE content_hash IN ({marks})", list(seeds))}
        ids = [by_hash[h] for h in seeds]
        for pool in (Pool.TRAIN, Pool.CACHE):
            _add_members(store, 0, pool, ids)
    return len(ids)


def _add_members(store: Store, iteration: int, pool: Pool, ids: Iterable[int]) -> None:
    # replace, not ignore: every column is the key, so the two are the same here, and sqlite-utils
    # cannot report an ignored single row of a WITHOUT ROWID table
    store.db.table("pool_members").insert_all(
        ({"iteration": iteration, "pool": pool.value, "instruction_id": i} for i in ids), replace=True)


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


def pool_ids(store: Store, iteration: int, pool: Pool) -> list[int]:
    return [r[0] for r in store.query(
        "SELECT instruction_id FROM pool_members WHERE iteration=? AND pool=? ORDER BY instruction_id",
        (iteration, pool.value))]


def get_instructions(store: Store, ids: Sequence[int]) -> list[Instruction]:
    return [_row_to_instruction(r) for r in store.query_in(
        "SELECT * FROM instructions WHERE id IN ({marks}) ORDER BY id", ids)]


def pool_size(store: Store, iteration: int, pool: Pool) -> int:
    return int(store.scalar("SELECT COUNT(*) FROM pool_members WHERE iteration=? AND pool=?",
                            (iteration, pool.value)))
