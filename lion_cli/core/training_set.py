"""Which instructions a student is trained on, as a rule over iterations (the store reads the pools)."""

from __future__ import annotations


def trained_iterations(train_from: str, iteration: int) -> range:
    """The iterations whose Train Pools the student of `iteration` learns. From the base: every Train
    Pool so far (the paper's cumulative set). From the previous student: this iteration's only."""
    return range(iteration, iteration + 1) if train_from == "previous" else range(iteration + 1)
