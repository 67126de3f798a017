"""A fake model answering from a fixed table gives exactly the accuracy computed by hand."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.bench_answers import macro_average
from lion_cli.eval.bench import EvalInputError, load_task_items, run_generate, run_loglik, select_tasks
from lion_cli.store.db import open_store
from lion_cli.store.evals import EvalSample, results, samples, save_result

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

# Targets (from the files): navigate B B B A B A (Yes=A, No=B); date_understanding B A B E B B;
# object_counting 8 15 3 14 5 3; sat-math D A C B C A.
TABLE: dict[str, list[str]] = {
    "navigate": ["(B)", "The answer is (A).", "B", "A", "I am not sure", "Answer: A"],          # ✓✗✓✓✗✓ 4/6
    "date_understanding": ["(B)", "A) 12/24/1937", "**C**", "E", "\n\nB.", "(F)"],          # ✓✓✗✓✓✗ 4/6
    "object_counting": ["8", "15.", "three", "**14**", "6", "The answer is 3"],               # ✓✓✗✓✗✗ 3/6
    "sat-math": ["(D)", "A", "B", "B", "Answer: C", "E"],                                    # ✓✓✗✓✓✗ 4/6
}
HAND = {"navigate": (4, 6), "date_understanding": (4, 6), "object_counting": (3, 6), "sat-math": (4, 6)}


class TableModel:
    """Answers row "task/idx" with TABLE[task][idx]; records how it was called."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        self.calls.append(rows)
        out = {}
        for row in rows:
            task, idx = row["id"].split("/")
            out[row["id"]] = TABLE[task][int(idx)]
        return out


def test_generate_mode_accuracy_is_exactly_the_hand_count() -> None:
    model = TableModel()
    items = load_task_items("bbh", ["navigate", "date_understanding", "object_counting"], limit=6, data_dir=DATA)
    got = run_generate(items, model)
    assert len(model.calls) == 1 and len(model.calls[0]) == 18        # one batched call for all tasks
    for res in got:
        correct, n = HAND[res.task]
        assert (res.correct, res.n, res.skipped) == (correct, n, 0)
        assert Fraction(res.correct).limit_denominator() / res.n == Fraction(correct, n)
    assert macro_average(got) == pytest.approx((4 / 6 + 4 / 6 + 3 / 6) / 3)
    nav = got[0]
    assert [s.extracted for s in nav.samples] == ["B", "A", "B", "A", None, "A"]
    assert nav.samples[0].prompt.startswith("If you follow these instructions")

    agi = run_generate(load_task_items("agieval", ["sat-math"], limit=6, data_dir=DATA), TableModel())[0]
    assert (agi.correct, agi.n) == (4, 6)


def test_skipped_targets_leave_the_denominator() -> None:
    # movie_recommendation: item 163 has the bad target "Monsters, Inc". The fake answers every item
    # with its right letter below 100 and with nothing after: 100 correct out of 249 scored.
    items = load_task_items("bbh", ["movie_recommendation"], data_dir=DATA)
    by_id = {f"movie_recommendation/{it.idx}": it for it in items["movie_recommendation"]}

    def model(rows: list[dict[str, Any]]) -> dict[str, str]:
        return {r["id"]: (f"({by_id[r['id']].target})" if by_id[r["id"]].idx < 100 else "no idea") for r in rows}

    res = run_generate(items, model)[0]
    assert (res.n, res.skipped, res.correct) == (249, 1, 100)
    assert res.accuracy == 100 / 249
    assert [s.idx for s in res.samples if s.correct is None] == [163]


def test_loglik_mode_picks_the_best_mean_logprob() -> None:
    items = load_task_items("bbh", ["navigate"], limit=3, data_dir=DATA)   # targets B B B

    def scores(rows: list[dict[str, Any]]) -> dict[str, tuple[list[float], list[int]]]:
        assert all(r["options"] == ["Yes", "No"] for r in rows)
        return {"navigate/0": ([-1.0, -3.0], [1, 6]),   # per token: A −1.0, B −0.5 → B ✓ (sum says A)
                "navigate/1": ([-1.0, -3.0], [1, 1]),   # A ✗
                "navigate/2": ([-2.0, -2.0], [2, 2])}   # tie → first (A) ✗
    res = run_loglik(items, scores)[0]
    assert res.mode == "loglik" and (res.correct, res.n) == (1, 3)
    assert [s.extracted for s in res.samples] == ["B", "A", "A"]


def test_task_selection() -> None:
    assert len(select_tasks("bbh")) == 23 and len(select_tasks("bbh", all_tasks=True)) == 27
    assert len(select_tasks("bbh", all_tasks=True, mode="loglik")) == 23
    assert select_tasks("agieval", ["lsat-ar", "lsat-ar"]) == ["lsat-ar"]
    with pytest.raises(EvalInputError, match="unknown bbh task"):
        select_tasks("bbh", ["navigat"])
    with pytest.raises(EvalInputError, match="free-form"):
        select_tasks("bbh", ["object_counting"], mode="loglik")


def test_results_are_stored_and_replaced(tmp_path: Path) -> None:
    res = run_generate(load_task_items("bbh", ["navigate"], limit=6, data_dir=DATA), TableModel())[0]
    with open_store(tmp_path / "lion.db") as store:
        for _ in range(2):  # a second run of the same model replaces the first
            rid = save_result(store, model="m", iteration=1, benchmark="bbh", task=res.task, mode=res.mode,
                              n=res.n, correct=res.correct, accuracy=res.accuracy, skipped=res.skipped,
                              samples=[EvalSample(s.idx, s.prompt, s.reply, s.extracted, s.target, s.correct)
                                       for s in res.samples])
        rows = results(store, benchmark="bbh")
        assert len(rows) == 1 and rows[0].id == rid and rows[0].accuracy == pytest.approx(4 / 6)
        stored = samples(store, rid)
        assert [s.reply for s in stored] == TABLE["navigate"] and stored[4].extracted is None
