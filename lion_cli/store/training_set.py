"""The instructions of several Train Pools at once: what a student was trained on, or everything
that was ever in a Train Pool."""

from __future__ import annotations

from collections.abc import Iterable

from lion_cli.core.types import Pool
from lion_cli.store.db import Store


def train_pool_ids(store: Store, iterations: Iterable[int] | None = None) -> list[int]:
    """The distinct members of the Train Pools of `iterations` (of every iteration when None), by id."""
    if iterations is None:
        return [r[0] for r in store.query(
            "SELECT DISTINCT instruction_id FROM pool_members WHERE pool=? ORDER BY instruction_id",
            (Pool.TRAIN.value,))]
    its = list(iterations)
    if not its:
        return []
    marks = ",".join("?" * len(its))
    return [r[0] for r in store.query(
        f"SELECT DISTINCT instruction_id FROM pool_members WHERE pool=? AND iteration IN ({marks})"
        " ORDER BY instruction_id", (Pool.TRAIN.value, *its))]
