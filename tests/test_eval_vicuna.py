"""Vicuna-80 arithmetic, by hand and through a real judge server on 127.0.0.1 (scripted verdicts)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.api import EndpointSpec
from lion_cli.core.types import Order
from lion_cli.core.vicuna_score import VicunaJudged, setting2_pair, vicuna_ratios
from lion_cli.eval.data import load_vicuna_questions, load_vicuna_reference
from lion_cli.eval.targets import EvalTarget
from lion_cli.eval.vicuna import JUDGE_TEMPLATES, JudgePlan, Question, evaluate_vicuna, questions_from_rows
from lion_cli.eval.vicuna_results import format_vicuna, store_vicuna
from lion_cli.llm.engine import LLMEngine
from lion_cli.prompts_loader import load_role_prompts, load_template
from lion_cli.server.app import build_server
from lion_cli.server.runner import server_in_thread
from lion_cli.store.db import open_store
from lion_cli.store.evals import results, samples

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

TF, SF = Order.TEACHER_FIRST, Order.STUDENT_FIRST


def test_setting2_averages_both_orders_and_every_sample() -> None:
    # Scores are (first shown, second shown): reference first gives (ref, student), student first (student, ref).
    verdicts = [(TF, (9.0, 6.0)), (TF, (8.0, 5.0)), (TF, None), (SF, (7.0, 8.0)), (SF, (6.0, 9.0)), (SF, (7.0, 7.0))]
    ref, stud = setting2_pair(verdicts)  # type: ignore[misc]
    assert ref == pytest.approx((9 + 8 + 8 + 9 + 7) / 5) and stud == pytest.approx((6 + 5 + 7 + 6 + 7) / 5)
    # Balanced Position Calibration: one order unreadable throughout leaves the question unscored.
    assert setting2_pair([(TF, (9.0, 6.0)), (SF, None)]) is None


def test_ratio_arithmetic_by_hand() -> None:
    judged = [
        VicunaJudged(1, "generic", (8, 6), (8.5, 6.5)),
        VicunaJudged(2, "generic", (10, 10), (9, 9.5)),
        VicunaJudged(3, "math", (9, 3), None),             # unscored in setting 2 only
        VicunaJudged(4, "math", None, (5, 4)),             # unscored in setting 1 only
    ]
    rows = {(r.setting, r.category): r for r in vicuna_ratios(judged)}
    g1, g2 = rows[1, "generic"], rows[2, "generic"]
    assert (g1.n, g1.unscored, g1.student_total, g1.reference_total) == (2, 0, 16, 18)
    assert g1.pct == pytest.approx(100 * 16 / 18) and g2.pct == pytest.approx(100 * 16 / 17.5)
    m1, m2 = rows[1, "math"], rows[2, "math"]
    assert (m1.n, m1.unscored, m1.pct) == (1, 1, pytest.approx(100 * 3 / 9))
    assert (m2.n, m2.unscored, m2.pct) == (1, 1, pytest.approx(100 * 4 / 5))
    o1, o2 = rows[1, "overall"], rows[2, "overall"]
    assert (o1.n, o1.unscored) == (3, 1) and o1.pct == pytest.approx(100 * 19 / 27)
    assert (o2.n, o2.unscored) == (3, 1) and o2.pct == pytest.approx(100 * 20 / 22.5)
    assert [(r.setting, r.category) for r in vicuna_ratios(judged, (2,))] == [
        (2, "generic"), (2, "math"), (2, "overall")]


class TableJudge:
    """A judge that scores an answer from a fixed table (text → score), adds `bias` to whichever
    answer is shown first, and answers without scores where `unreadable` says so."""

    def __init__(self, table: Mapping[str, float], bias: float = 1.0, unreadable: dict[str, int] | None = None) -> None:
        self.table, self.bias = table, bias
        self.unreadable = unreadable or {}   # answer text → how many first samples are unreadable
        self.requests: list[dict[str, Any]] = []

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        user = request["messages"][-1]["content"]
        a1 = re.search(r"\[Assistant 1\]\n(.*?)\n\[End of Assistant 1\]", user, re.S).group(1)  # type: ignore[union-attr]
        a2 = re.search(r"\[Assistant 2\]\n(.*?)\n\[End of Assistant 2\]", user, re.S).group(1)  # type: ignore[union-attr]
        sample = int(request.get("x_lion_sample", 0))
        evidence = "Write your evidence first" in user
        self.requests.append({"a1": a1, "sample": sample, "temperature": request.get("temperature"),
                              "evidence": evidence, "role": role})
        if sample < max(self.unreadable.get(a1, 0), self.unreadable.get(a2, 0)):
            return "Both are fine, I would not put numbers on them.", "stop", 50, 10
        s1 = min(10.0, self.table[a1] + self.bias)
        lines = f"Assistant 1: {s1:g}\nAssistant 2: {self.table[a2]:g}"
        text = f"Assistant 1 is clearer.\n{lines}" if evidence else f"{lines}\nAssistant 1 is clearer."
        return text, "stop", 50, 10


QUESTIONS = [Question(1, "How do I sleep better?", "generic"), Question(2, "What is 2+2?", "math"),
             Question(3, "Write a haiku.", "writing")]
STUDENT = {1: "student one", 2: "student two", 3: "student three"}
REFERENCE = {1: "reference one", 2: "reference two", 3: "reference three"}
SCORES = {"student one": 6, "reference one": 8, "student two": 9, "reference two": 7, "student three": 4,
          "reference three": 9}


def _run(judge: TableJudge, plan: JudgePlan) -> Any:
    templates = {name: load_template(name) for name in JUDGE_TEMPLATES}

    async def go() -> Any:
        with server_in_thread(build_server(judge)) as url:
            spec = EndpointSpec(base_url=url, model="judge", api_key_env="", max_retries=1, timeout_s=10,
                                rpm=60_000, tpm=10_000_000, temperature=0.2, structured="off")
            async with LLMEngine({"judge": spec}) as engine:
                return await evaluate_vicuna(engine, templates, QUESTIONS, STUDENT, REFERENCE, plan)
    return asyncio.run(go())


def test_both_settings_request_counts_and_position_bias() -> None:
    judge = TableJudge(SCORES, bias=1.0)
    out = _run(judge, JudgePlan((1, 2), evidence_samples=3, evidence_temperature=1.0, retries=1))
    assert len(judge.requests) == 3 * (1 + 2 * 3)                          # 1 verdict + 2 orders × k=3
    assert {r["role"] for r in judge.requests} == {"judge"}
    s1 = [r for r in judge.requests if not r["evidence"]]
    s2 = [r for r in judge.requests if r["evidence"]]
    assert len(s1) == 3 and all(r["a1"].startswith("reference") and r["temperature"] == 0.2 for r in s1)
    assert len(s2) == 18 and {r["temperature"] for r in s2} == {1.0}
    assert sorted(r["sample"] for r in s2 if r["a1"] == "student one") == [0, 2, 4]   # k·(retries+1)
    o = {(r.setting, r.category): r for r in out.ratios}
    # Setting 1, reference first: the reference gets +1. student 6+9+4 = 19; reference 9+8+10 = 27.
    assert o[1, "overall"].pct == pytest.approx(100 * 19 / 27)
    # Setting 2: each order's bias lands on one side; averaged over both orders each answer gets +0.5
    # (reference three's 10 is capped: (10 + 9) / 2).
    assert o[2, "overall"].student_total == pytest.approx(6.5 + 9.5 + 4.5)
    assert o[2, "overall"].reference_total == pytest.approx(8.5 + 7.5 + 9.5)
    assert o[2, "math"].pct == pytest.approx(100 * 9.5 / 7.5)
    text = format_vicuna("m", out.ratios, "stored", "judge")
    assert "setting 1" in text and "setting 2" in text and f"{o[2, 'overall'].pct:.2f}" in text
    assert "Lion-7B 93.81 %" in text


def test_setting1_only_and_unreadable_verdict_retried_then_left_out() -> None:
    # Question 1: the first sample is unreadable, the retry reads. Question 3: never readable.
    judge = TableJudge(SCORES, bias=0.0, unreadable={"student one": 1, "student three": 99})
    out = _run(judge, JudgePlan((1,), retries=1))
    assert out.verdicts[1, 1][0].attempts == 2 and out.scores(1, 1) == (8, 6)
    assert out.scores(1, 3) is None and (2, 1) not in out.verdicts
    o = {r.category: r for r in out.ratios}["overall"]
    assert (o.setting, o.n, o.unscored) == (1, 2, 1) and o.pct == pytest.approx(100 * (6 + 9) / (8 + 7))
    assert len(judge.requests) == 1 + 2 + 2                              # q2 once, q1 and q3 retried once


def test_results_stored_per_setting_and_category_with_samples(tmp_path: Path) -> None:
    out = _run(TableJudge(SCORES, bias=0.0), JudgePlan((1, 2), evidence_samples=2))
    with open_store(tmp_path / "lion.db") as store:
        store_vicuna(store, EvalTarget("student-it1", tmp_path, 1), out, reference_name="stored", judge_model="judge")
        rows = {(r.mode, r.task): r for r in results(store, benchmark="vicuna")}
        assert {t for _, t in rows} == {"generic", "math", "writing", "overall"}
        assert {m for m, _ in rows} == {"setting1", "setting2"}
        for mode in ("setting1", "setting2"):
            overall = rows[mode, "overall"]
            assert overall.iteration == 1 and overall.accuracy == pytest.approx((6 + 9 + 4) / (8 + 7 + 9))
            got = samples(store, overall.id)
            assert [s.idx for s in got] == [1, 2, 3] and got[1].reply == "student two"
            assert got[1].target == "reference two" and got[1].correct == 9
        assert rows["setting2", "overall"].detail["evidence_samples"] == 2


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
