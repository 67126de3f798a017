"""The dashboard's and `lion status`'s projection counts [preference] online's referee requests as `lion plan`
does (core/online_plan.py, the one computation), and the store read behind it (store/online_totals.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_plan import paper_inputs

from lion_cli.cli.init import init_project
from lion_cli.core.online_plan import OnlineProgress, OnlineRounds, online_referee_calls
from lion_cli.core.plan import make_plan
from lion_cli.core.projection import remaining_calls
from lion_cli.core.totals import RunTotals, plan_from_settings
from lion_cli.store.db import open_store
from lion_cli.store.totals import TotalsReader, read_totals

LOOP = {"loop": {"iterations": 3, "new_per_iteration": 6_000}}


def _settings(**preference: object) -> dict[str, object]:
    return {**LOOP, "preference": {"online": True, "online_rounds": 2, "online_samples": 4, "when": "each",
                                   "online_prompts": "hard", **preference}}


def test_at_the_start_the_projection_counts_the_online_rounds_lion_plan_counts() -> None:
    for pref, shares in (({}, {0: 0.25}), ({"when": "final"}, {}), ({"online_prompts": "cache"}, {0: 0.1})):
        run_plan = plan_from_settings(_settings(**pref))
        assert run_plan is not None and run_plan.online.rounds == 2
        plan = make_plan(dataclasses.replace(paper_inputs(), online=run_plan.online, hard_shares=shares))
        planned = sum(x.requests for x in plan.lines + plan.final if "online" in x.stage)
        fresh = RunTotals(cache_size=52_002, teacher_missing=52_002, online=OnlineProgress(hard_shares=shares))
        projected = online_referee_calls(run_plan.online, fresh.online, current=0, iterations=3, cache=52_002,
                                         previous_cache=0, new_per_iteration=6_000, retry_rate=0.0)
        assert projected == planned > 0, pref
        without = plan_from_settings(LOOP)
        assert without is not None
        assert remaining_calls(fresh, run_plan)["referee"] - remaining_calls(fresh, without)["referee"] == planned


def test_mid_run_the_current_imitations_verdicts_are_taken_off_and_a_done_one_counts_nothing() -> None:
    each = OnlineRounds(rounds=1, samples=2, each=True)

    def ahead(progress: OnlineProgress) -> int:  # at iteration 1 of 2: its imitation, then the final one's
        return online_referee_calls(each, progress, current=1, iterations=2, cache=20, previous_cache=10,
                                    new_per_iteration=10, retry_rate=0.0)

    # iteration 1's prompts: 40 % of iteration 0's 10 → 4 × 2 samples × 2 orders = 16; the final's: half of 20 → 40
    assert ahead(OnlineProgress(hard_shares={0: 0.4})) == 16 + 40
    assert ahead(OnlineProgress(hard_shares={0: 0.4}, verdicts=3)) == 13 + 40
    assert ahead(OnlineProgress(hard_shares={0: 0.4, 1: 0.25}, imitation_done=True)) == 5 * 4
    assert online_referee_calls(OnlineRounds(), OnlineProgress(), current=1, iterations=2, cache=20,
                                previous_cache=10, new_per_iteration=10, retry_rate=0.0) == 0


def _store_at_iteration_1(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(f"Task {i}.\n" for i in range(10)), encoding="utf-8")
    init_project(tmp_path / "p", seeds)
    db = tmp_path / "p" / "lion.db"
    with open_store(db) as store, store.tx() as c:
        c.execute("INSERT INTO stages (iteration, stage, status) VALUES (0, 'discrimination', 'done')")
        c.executemany("INSERT INTO labels (iteration, instruction_id, label) VALUES (0, ?, ?)",
                      [(i, "hard" if i <= 4 else "easy") for i in range(1, 11)])   # 4 of 10 hard
        c.execute("UPDATE iterations SET status = 'done' WHERE iteration = 0")
        c.execute("INSERT INTO iterations (iteration) VALUES (1)")
        c.execute("INSERT INTO pool_members (iteration, pool, instruction_id) SELECT 1, 'cache', instruction_id"
                  " FROM pool_members WHERE iteration = 0 AND pool = 'cache'")
        c.execute("INSERT INTO stages (iteration, stage, status) VALUES (1, 'imitation', 'running')")
        c.execute("INSERT INTO online_samples (iteration, round, instruction_id, sample, seed, model_path, text)"
                  " VALUES (1, 1, 1, 0, 7, 'm', 'an answer')")
        c.executemany("INSERT INTO online_scores (iteration, round, instruction_id, sample, order_name, attempt,"
                      " referee_model, raw_text) VALUES (1, 1, 1, 0, ?, ?, 'r', '8 6')",
                      [("teacher_first", 0), ("student_first", 0), ("student_first", 1)])
    return db


def test_the_store_read_gives_the_shares_the_verdicts_and_the_stage(tmp_path: Path) -> None:
    db = _store_at_iteration_1(tmp_path)
    reader = TotalsReader()
    with open_store(db, readonly=True) as store, store.read():
        first = reader.read(store)
    assert (first.iteration, first.cache_size, first.previous_cache_size) == (1, 10, 10)
    assert first.online == OnlineProgress(hard_shares={0: 0.4}, imitation_done=False, verdicts=3)
    with open_store(db) as store, store.tx() as c:   # the imitation's rounds end; the discrimination starts
        c.execute("UPDATE stages SET status = 'done' WHERE iteration = 1 AND stage = 'imitation'")
        c.execute("INSERT INTO stages (iteration, stage, status) VALUES (1, 'discrimination', 'running')")
        c.executemany("INSERT INTO labels (iteration, instruction_id, label) VALUES (1, ?, 'hard')",
                      [(i,) for i in range(1, 3)])
    with open_store(db, readonly=True) as store, store.read():
        again, fresh = reader.read(store), read_totals(store)
    assert again == fresh   # a share is taken once its discrimination is done, not from labels on the way
    assert fresh.online == OnlineProgress(hard_shares={0: 0.4}, imitation_done=True, verdicts=0)
    with open_store(db) as store, store.tx() as c:
        c.execute("UPDATE stages SET status = 'done' WHERE iteration = 1 AND stage = 'discrimination'")
    with open_store(db, readonly=True) as store, store.read():
        again, fresh = reader.read(store), read_totals(store)
    assert again == fresh and fresh.online.hard_shares == {0: 0.4, 1: 1.0}
