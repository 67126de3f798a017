"""The store's bulk inserts and upserts (sqlite-utils inside our own transactions): a repeated write
updates a row in place, a failure inside a transaction leaves nothing behind, and a seed import
keeps the first of repeated items."""

from __future__ import annotations

from pathlib import Path

import pytest

from lion_cli.core.discrimination import LabelRow
from lion_cli.core.types import Label, Order, Pool, SeedItem
from lion_cli.store.db import open_store
from lion_cli.store.jobs import add_metric, job_metrics, start_job
from lion_cli.store.loop_rows import (
    CandidateRow,
    candidates,
    label_ids,
    replace_labels,
    save_candidate,
    save_judgement,
    verdicts,
)
from lion_cli.store.pools import get_instructions, import_seeds, pool_ids, set_pool


def _candidate(slot: int, text: str, accepted: bool) -> CandidateRow:
    return CandidateRow(slot, "hard", 1, text, text, "", "stop", accepted, None if accepted else "too short", 0.1,
                        None, None)


def test_seed_import_bulk_inserts_and_keeps_the_first_of_repeats(tmp_path: Path) -> None:
    items = [SeedItem(f"Instruction {i}.", output=f"out {i}") for i in range(2000)]
    items.insert(5, SeedItem("Instruction 3.", output="a later copy"))
    with open_store(tmp_path / "lion.db") as store:
        assert import_seeds(store, items, "p") == 2000
        ids = pool_ids(store, 0, Pool.TRAIN)
        assert ids == pool_ids(store, 0, Pool.CACHE) and len(ids) == 2000
        first = get_instructions(store, ids[:4])
        assert [i.text for i in first] == ["Instruction 0.", "Instruction 1.", "Instruction 2.", "Instruction 3."]
        assert store.scalar("SELECT seed_output FROM instructions WHERE text='Instruction 3.'") == "out 3"
        assert store.scalar("SELECT name FROM project") == "p"


def test_pool_members_are_replaced_whole_and_repeats_collapse(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        import_seeds(store, [SeedItem(f"I{i}") for i in range(5)], "p")
        set_pool(store, 1, Pool.CACHE, [1, 2, 2, 3])
        set_pool(store, 1, Pool.TRAIN, [4])
        set_pool(store, 1, Pool.TRAIN, [4])           # one row, written again
        assert pool_ids(store, 1, Pool.CACHE) == [1, 2, 3] and pool_ids(store, 1, Pool.TRAIN) == [4]


def test_upserts_update_in_place(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        import_seeds(store, [SeedItem("I0"), SeedItem("I1")], "p")
        save_candidate(store, 0, _candidate(0, "first try", False))
        old_id = store.scalar("SELECT id FROM candidates")
        save_candidate(store, 0, _candidate(0, "second try", True))
        save_candidate(store, 0, _candidate(1, "another", False))
        got = candidates(store, 0)
        assert [(c.slot, c.text, c.accepted) for c in got] == [(0, "second try", True), (1, "another", False)]
        assert store.scalar("SELECT id FROM candidates WHERE slot=0") == old_id
        save_judgement(store, 1, 0, Order.TEACHER_FIRST, 0, "ref", "no scores", None, None, "unreadable")
        save_judgement(store, 1, 0, Order.TEACHER_FIRST, 0, "ref", "8 6", 8.0, 6.0, None)
        [v] = verdicts(store, 0)
        assert (v.teacher_score, v.student_score, v.parse_error) == (8.0, 6.0, None)
        job = start_job(store, 0, "train", "{}", "/out", None)
        assert add_metric(store, job, {"step": 1, "loss": 2.0}) and add_metric(store, job, {"step": 1, "loss": 1.5})
        assert [(m["step"], m["loss"]) for m in job_metrics(store, job)] == [(1, 1.5)]


def test_bulk_writes_join_the_callers_transaction(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        import_seeds(store, [SeedItem(f"I{i}") for i in range(3)], "p")
        rows = [LabelRow(i, 8.0, 5.0, 3.0, Label.HARD, False) for i in (1, 2)]
        with pytest.raises(RuntimeError), store.tx():
            replace_labels(store, 0, rows)
            set_pool(store, 1, Pool.CACHE, [1, 2, 3])
            raise RuntimeError("killed half-way")
        assert label_ids(store, 0, Label.HARD) == [] and pool_ids(store, 1, Pool.CACHE) == []
        replace_labels(store, 0, rows)
        replace_labels(store, 0, rows[:1])            # replaced whole
        assert label_ids(store, 0, Label.HARD) == [1]
