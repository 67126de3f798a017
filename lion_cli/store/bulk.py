"""Filling a new store fast: for a store file that no one else has open yet."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from lion_cli.store.db import Store


@contextmanager
def building(store: Store) -> Iterator[Store]:
    """The rollback journal in memory and no syncs while the store is filled, its own journal mode and
    syncs again after. Only for a file that is thrown away if this fails: `lion init` builds the store in
    a temporary folder and moves it into place once complete, so a crash here never leaves a project
    with a damaged store. (The WAL would write every page twice, once to the log and once to the file.)"""
    journal = store.scalar("PRAGMA journal_mode")
    synchronous = int(store.scalar("PRAGMA synchronous"))
    store.conn.execute("PRAGMA journal_mode = MEMORY")
    store.conn.execute("PRAGMA synchronous = OFF")
    try:
        yield store
    finally:
        store.conn.execute(f"PRAGMA journal_mode = {journal}")
        store.conn.execute(f"PRAGMA synchronous = {synchronous}")


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a seed file's records are read and written: tens of
    thousands of records, items and rows, none of them in a cycle (reference counting frees them), which
    the collector would otherwise walk again and again as they pile up (about a tenth of `lion init` on a
    52K-row file). Back as it was after, also on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
