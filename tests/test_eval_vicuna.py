"""Vicuna-80 arithmetic, by hand and through a real judge server on 127.0.0.1 (scripted verdicts)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.api import EndpointSpec
from lion_cli.core.vicuna_score import VicunaJudged, vicuna_ratios
from lion_cli.eval.data import load_vicuna_questions, load_vicuna_reference
from lion_cli.eval.targets import EvalTarget
from lion_cli.eval.vicuna import Question, evaluate_vicuna, format_vicuna, questions_from_rows, store_vicuna
from lion_cli.llm.engine import LLMEngine
from lion_cli.prompts_loader import load_role_prompts
from lion_cli.server.app import build_server
from lion_cli.server.runner import server_in_thread
from lion_cli.store.db import open_store
from lion_cli.store.evals import results, samples

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def test_ratio_arithmetic_by_hand() -> None:
    judged = [
        VicunaJudged(1, "generic", (8, 6), (7, 9)),      # student 6 + 7 = 13, reference 8 + 9 = 17
        VicunaJudged(2, "generic", (10, 10), (9, 10)),   # student 10 + 9 = 19, reference 20
        VicunaJudged(3, "math", (9, 3), (2, 8)),         # student 5, reference 17
        VicunaJudged(4, "math", None, (5, 5)),           # unscored in one order: out of every total
    ]
    rows = {r.category: r for r in vicuna_ratios(judged)}
    g = rows["generic"]
    assert (g.n, g.unscored) == (2, 0)
    assert g.setting1_pct == pytest.approx(100 * 16 / 18)    # reference first: student 6+10, ref 8+10
    assert g.setting2_pct == pytest.approx(100 * 16 / 19)    # student first: student 7+9, ref 9+10
    assert g.mean_pct == pytest.approx((100 * 16 / 18 + 100 * 16 / 19) / 2)
    m = rows["math"]
    assert (m.n, m.unscored, m.student_total, m.reference_total) == (1, 1, 5, 17)
    o = rows["overall"]
    assert (o.n, o.unscored) == (3, 1) and o.student_total == 13 + 19 + 5 and o.reference_total == 17 + 20 + 17
    assert o.setting1_pct == pytest.approx(100 * 19 / 27) and o.setting2_pct == pytest.approx(100 * 18 / 27)
    assert [r.category for r in vicuna_ratios(judged)] == ["generic", "math", "overall"]


class TableJudge:
    """A judge that scores an answer from a fixed table (text → score), adds `bias` to whichever
    answer is shown first, and answers without scores where `unreadable` says so."""

    def __init__(self, table: Mapping[str, float], bias: float = 1.0, unreadable: dict[str, int] | None = None) -> None:
        self.table, self.bias = table, bias
        self.unreadable = unreadable or {}   # answer text → how many first samples are unreadable
        self.requests: list[tuple[str, int]] = []

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        user = request["messages"][-1]["content"]
        a1 = re.search(r"\[Assistant 1\]\n(.*?)\n\[End of Assistant 1\]", user, re.S).group(1)  # type: ignore[union-attr]
        a2 = re.search(r"\[Assistant 2\]\n(.*?)\n\[End of Assistant 2\]", user, re.S).group(1)  # type: ignore[union-attr]
        sample = int(request.get("x_lion_sample", 0))
        self.requests.append((a1, sample))
        if sample < max(self.unreadable.get(a1, 0), self.unreadable.get(a2, 0)):
            return "Both are fine, I would not put numbers on them.", "stop", 50, 10
        s1 = min(10.0, self.table[a1] + self.bias)
        return f"Assistant 1 is clearer.\nAssistant 1: {s1:g}\nAssistant 2: {self.table[a2]:g}", "stop", 50, 10


QUESTIONS = [Question(1, "How do I sleep better?", "generic"), Question(2, "What is 2+2?", "math"),
             Question(3, "Write a haiku.", "writing")]
STUDENT = {1: "student one", 2: "student two", 3: "student three"}
REFERENCE = {1: "reference one", 2: "reference two", 3: "reference three"}
SCORES = {"student one": 6, "reference one": 8, "student two": 9, "reference two": 7, "student three": 4,
          "reference three": 9}


def _run(judge: TableJudge, retries: int = 1) -> Any:
    async def go() -> Any:
        with server_in_thread(build_server(judge)) as url:
            spec = EndpointSpec(base_url=url, model="judge", api_key_env="", max_retries=1, timeout_s=10,
                                rpm=60_000, tpm=10_000_000)
            async with LLMEngine({"referee": spec}) as engine:
                return await evaluate_vicuna(engine, load_role_prompts(), QUESTIONS, STUDENT, REFERENCE,
                                             retries=retries)
    return asyncio.run(go())


def test_scripted_judge_both_orders_and_position_bias() -> None:
    judge = TableJudge(SCORES, bias=1.0)
    out = _run(judge)
    assert len(judge.requests) == 6                                       # 3 questions × 2 orders
    assert out.ref_first[1].scores == (9, 6) and out.student_first[1].scores == (7, 8)
    o = {r.category: r for r in out.ratios}["overall"]
    # reference first: the reference gets +1. student 6+9+4 = 19; reference 9+8+10 = 27
    assert o.setting1_pct == pytest.approx(100 * 19 / 27)
    # student first: the student gets +1. student 7+10+5 = 22; reference 8+7+9 = 24
    assert o.setting2_pct == pytest.approx(100 * 22 / 24)
    assert o.mean_pct == pytest.approx((100 * 19 / 27 + 100 * 22 / 24) / 2)
    assert {r.category: round(r.mean_pct, 4) for r in out.ratios}["math"] == round((900 / 8 + 1000 / 7) / 2, 4)
    text = format_vicuna("m", out.ratios, "stored")
    assert "overall" in text and f"{o.mean_pct:.2f}" in text and "Lion-7B 93.81 %" in text


def test_unreadable_verdict_is_retried_then_left_out() -> None:
    # Question 1: the first sample is unreadable, the retry reads. Question 3: never readable.
    judge = TableJudge(SCORES, bias=0.0, unreadable={"student one": 1, "student three": 99})
    out = _run(judge, retries=1)
    assert out.ref_first[1].attempts == 2 and out.ref_first[1].scores == (8, 6)
    assert out.ref_first[3].scores is None and out.student_first[3].scores is None
    o = {r.category: r for r in out.ratios}["overall"]
    assert (o.n, o.unscored) == (2, 1)
    assert o.setting1_pct == pytest.approx(100 * (6 + 9) / (8 + 7)) == o.setting2_pct
    assert sum(1 for _, s in judge.requests if s == 1) == 4                # retries: q1 ×2, q3 ×2


def test_results_stored_per_category_with_samples(tmp_path: Path) -> None:
    out = _run(TableJudge(SCORES, bias=0.0))
    with open_store(tmp_path / "lion.db") as store:
        store_vicuna(store, EvalTarget("student-it1", tmp_path, 1), out, reference_name="stored", judge_model="judge")
        rows = {r.task: r for r in results(store, benchmark="vicuna")}
        assert set(rows) == {"generic", "math", "writing", "overall"}
        overall = rows["overall"]
        assert overall.mode == "judge" and overall.iteration == 1
        assert overall.accuracy == pytest.approx((6 + 9 + 4) / (8 + 7 + 9))
        got = samples(store, overall.id)
        assert [s.idx for s in got] == [1, 2, 3] and got[1].reply == "student two"
        assert got[1].target == "reference two" and got[1].correct == 9


def test_the_80_questions_and_stored_reference() -> None:
    qs = questions_from_rows(load_vicuna_questions(DATA))
    refs = load_vicuna_reference(DATA)
    assert len(qs) == 80 and set(refs) == {q.question_id for q in qs}
    counts: dict[str, int] = {}
    for q in qs:
        counts[q.category] = counts.get(q.category, 0) + 1
    assert counts["coding"] == 7 and counts["math"] == 3 and counts["generic"] == 10


def test_teacher_as_reference_through_the_engine() -> None:
    from lion_cli.eval.vicuna import teacher_references
    from lion_cli.server.scripted import ScriptedBackend, scripted_teacher_answer

    async def go() -> dict[int, str]:
        with server_in_thread(build_server(ScriptedBackend(bad_reply_rate=0.0))) as url:
            spec = EndpointSpec(base_url=url, model="teacher", api_key_env="", rpm=60_000, tpm=10_000_000)
            async with LLMEngine({"teacher": spec}) as engine:
                return await teacher_references(engine, load_role_prompts(), QUESTIONS)

    refs = asyncio.run(go())
    assert refs == {q.question_id: scripted_teacher_answer(q.text) for q in QUESTIONS}


def test_scripted_structured_verdict_carries_the_computed_scores() -> None:
    # The scores are an enum of 1..10 in the reply schema: the scripted server must still put the scores it
    # computed there (a drawn enum member would make every structured verdict random).
    import random

    from lion_cli.core.reply_schemas import REFEREE_REPLY, parse_structured_scores
    from lion_cli.server.schema import example

    value = example(REFEREE_REPLY.schema, "why", [7.0, 3.0], random.Random(0))
    assert (value["assistant_1"], value["assistant_2"]) == (7, 3)
    import json
    assert parse_structured_scores(json.dumps(value)) == parse_structured_scores(
        json.dumps({"reasoning": "why", "assistant_1": 7, "assistant_2": 3}))
