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
    with store.tx() as c:
        c.execute("INSERT OR REPLACE INTO project (id, name) VALUES (1, ?)", (project_name,))
        c.execute("INSERT OR IGNORE INTO iterations (iteration) VALUES (0)")
        ids: dict[int, None] = {}  # ordered and unique: a repeated item is one pool member, counted once
        for it in items:
            h = content_hash(it.instruction, it.input)
            c.execute(
                "INSERT OR IGNORE INTO instructions (content_hash, text, input, seed_output, origin, iteration)"
                " VALUES (?,?,?,?,?,0)", (h, it.instruction, it.input, it.output, Origin.SEED.value))
            ids[c.execute("SELECT id FROM instructions WHERE content_hash=?", (h,)).fetchone()[0]] = None
        for pool in (Pool.TRAIN, Pool.CACHE):
            c.executemany("INSERT OR IGNORE INTO pool_members VALUES (0, ?, ?)",
                          [(pool.value, i) for i in ids])
    return len(ids)


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
        c.executemany("INSERT OR IGNORE INTO pool_members VALUES (?,?,?)",
                      [(iteration, pool.value, i) for i in ids])


def pool_ids(store: Store, iteration: int, pool: Pool) -> list[int]:
    return [r[0] for r in store.query(
        "SELECT instruction_id FROM pool_members WHERE iteration=? AND pool=? ORDER BY instruction_id",
        (iteration, pool.value))]


def get_instructions(store: Store, ids: Sequence[int]) -> list[Instruction]:
    out: list[Instruction] = []
    for start in range(0, len(ids), 900):  # stay under SQLite's host-parameter limit
        chunk = list(ids[start:start + 900])
        marks = ",".join("?" * len(chunk))
        out += [_row_to_instruction(r) for r in store.query(
            f"SELECT * FROM instructions WHERE id IN ({marks}) ORDER BY id", chunk)]
    return out


def pool_size(store: Store, iteration: int, pool: Pool) -> int:
    return int(store.scalar("SELECT COUNT(*) FROM pool_members WHERE iteration=? AND pool=?",
                            (iteration, pool.value)))
