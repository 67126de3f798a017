"""Reads for choosing what `lion eval --all-iterations` evaluates."""

from __future__ import annotations

from lion_cli.store.db import Store


def iterations_with_student(store: Store) -> list[int]:
    """Iterations that recorded a trained student's folder, in order."""
    return [int(r[0]) for r in store.query(
        "SELECT iteration FROM iterations WHERE student_path IS NOT NULL ORDER BY iteration")]
