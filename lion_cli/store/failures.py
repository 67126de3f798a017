"""Per-item permanent failures (table item_failures, migration 0010): a request the server refused for
good (a 400 such as context_length_exceeded, 413, 422, a content filter) marks its item failed; the
stage goes on without it and does not send it again until `lion retry-failed` clears the mark.

An item is the unit of work the request was for, keyed per role:
- teacher: the instruction (its answer is shared by every pool and iteration);
- referee: one order of one instruction in one iteration;
- generator: one slot of one iteration's generation plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lion_cli.core.types import Order
from lion_cli.store.db import Store


def teacher_item(instruction_id: int) -> str:
    return f"instruction {instruction_id}"


def referee_item(iteration: int, instruction_id: int, order: Order) -> str:
    return f"iteration {iteration} instruction {instruction_id} {order.value}"


def online_referee_item(iteration: int, round_no: int, instruction_id: int, sample: int, order: Order) -> str:
    return f"iteration {iteration} online round {round_no} instruction {instruction_id} sample {sample} {order.value}"


def generator_item(iteration: int, slot: int) -> str:
    return f"iteration {iteration} slot {slot}"


@dataclass(frozen=True)
class ItemFailure:
    role: str
    item_key: str
    iteration: int
    stage: str
    instruction_id: int | None
    model: str
    status: int | None
    reason: str


def _has_table(store: Store) -> bool:
    """A store opened read-only before migration 0010 has no failures table: it has no failures either."""
    return bool(store.scalar("SELECT 1 FROM sqlite_master WHERE type='table' AND name='item_failures'"))


def record_failure(store: Store, failure: ItemFailure) -> None:
    """Mark an item failed; an item already marked keeps its first reason."""
    with store.tx() as c:
        c.execute("INSERT OR IGNORE INTO item_failures (role, item_key, iteration, stage, instruction_id, model,"
                  " status, reason) VALUES (?,?,?,?,?,?,?,?)",
                  (failure.role, failure.item_key, failure.iteration, failure.stage, failure.instruction_id,
                   failure.model, failure.status, failure.reason))


def failed_keys(store: Store, role: str) -> set[str]:
    """The items of `role` marked failed now: the loop skips them."""
    if not _has_table(store):
        return set()
    return {r[0] for r in store.query("SELECT item_key FROM item_failures WHERE role=? AND cleared_at IS NULL",
                                      (role,))}


def _where(iteration: int | None, stage: str | None) -> tuple[str, tuple[object, ...]]:
    sql = "cleared_at IS NULL"
    params: tuple[object, ...] = ()
    if iteration is not None:
        sql, params = sql + " AND iteration=?", (*params, iteration)
    if stage is not None:
        sql, params = sql + " AND stage=?", (*params, stage)
    return sql, params


def active_failures(store: Store, iteration: int | None = None, stage: str | None = None) -> list[ItemFailure]:
    """The items marked failed now, oldest first, optionally of one iteration and/or stage."""
    if not _has_table(store):
        return []
    where, params = _where(iteration, stage)
    return [ItemFailure(r["role"], r["item_key"], r["iteration"], r["stage"], r["instruction_id"], r["model"],
                        r["status"], r["reason"])
            for r in store.query(f"SELECT * FROM item_failures WHERE {where} ORDER BY id", params)]


def failure_counts(store: Store, iteration: int) -> dict[str, int]:
    """stage → items marked failed now, of one iteration."""
    if not _has_table(store):
        return {}
    return {r[0]: r[1] for r in store.query("SELECT stage, COUNT(*) FROM item_failures WHERE iteration=?"
                                            " AND cleared_at IS NULL GROUP BY stage", (iteration,))}


def clear_failures(store: Store, iteration: int | None = None, stage: str | None = None) -> list[ItemFailure]:
    """Clear the marks (kept as cleared rows) so the items are sent again; returns what was cleared."""
    cleared = active_failures(store, iteration, stage)
    where, params = _where(iteration, stage)
    with store.tx() as c:
        c.execute(f"UPDATE item_failures SET cleared_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE {where}", params)
    return cleared


def failed_instruction_ids(failures: Sequence[ItemFailure]) -> list[int]:
    return sorted({f.instruction_id for f in failures if f.instruction_id is not None})
