"""Vicuna-80: the student and a reference answer the 80 questions; a judge scores each pair twice.

- Student answers come from the student engine (greedy, like the benchmarks).
- The reference is the teacher: asked through the API engine's "teacher" role with the teacher
  prompt, or (no API needed) gpt-3.5-turbo's stored answers from the dataset, which is what the
  paper compared against ("ChatGPT").
- The judge is the project's referee endpoint and prompt: each pair is judged with the reference
  shown first and with the student shown first; an unreadable verdict is asked again with another
  sample index (up to `retries` times), then left unscored, and the question leaves every total
  (core/vicuna_score.py).
API calls go through the engine, so they are cached, paced, retried and logged like the loop's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lion_cli.core.judging import ask_referee, referee_format
from lion_cli.core.types import Order, Role, shown_pair
from lion_cli.core.vicuna_score import VicunaJudged, VicunaRatio, vicuna_ratios
from lion_cli.eval.targets import EvalTarget
from lion_cli.store.db import Store
from lion_cli.store.evals import EvalSample, save_result

if TYPE_CHECKING:
    from lion_cli.core.role_prompts import RolePrompts
    from lion_cli.llm.engine import LLMEngine


@dataclass(frozen=True, slots=True)
class Question:
    question_id: int
    text: str
    category: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """One order's final verdict: (first shown, second shown) scores or None, and the raw reply."""

    scores: tuple[float, float] | None
    raw: str
    attempts: int


@dataclass
class VicunaOutcome:
    questions: list[Question]
    student: dict[int, str]
    reference: dict[int, str]
    ref_first: dict[int, Verdict]
    student_first: dict[int, Verdict]
    ratios: list[VicunaRatio]

    def judged(self) -> list[VicunaJudged]:
        return [VicunaJudged(q.question_id, q.category, self.ref_first[q.question_id].scores,
                             self.student_first[q.question_id].scores) for q in self.questions]


def questions_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Question]:
    return [Question(int(r["question_id"]), str(r["text"]), str(r["category"])) for r in rows]


async def teacher_references(engine: LLMEngine, prompts: RolePrompts, questions: Sequence[Question]
                             ) -> dict[int, str]:
    """The teacher's answers to the questions (cached in the store like any teacher answer)."""
    async def one(q: Question) -> tuple[int, str]:
        res = await engine.chat(Role.TEACHER.value, prompts.teacher(q.text, ""))
        return q.question_id, res.text

    return dict(await asyncio.gather(*(one(q) for q in questions)))


async def _judge(engine: LLMEngine, prompts: RolePrompts, question: str, first: str, second: str,
                 retries: int, reply_format: dict[str, Any] | None) -> Verdict:
    messages = prompts.referee(question, "", first, second, structured=reply_format is not None)
    last = await ask_referee(engine, messages, attempts=retries + 1, response_format=reply_format)
    if last is None:
        return Verdict(None, "", 0)
    return Verdict(last.scores, last.raw, last.attempt + 1)


async def judge_pairs(engine: LLMEngine, prompts: RolePrompts, questions: Sequence[Question],
                      student: Mapping[int, str], reference: Mapping[int, str], *, retries: int = 1,
                      on_done: Callable[[int, int], None] | None = None
                      ) -> tuple[dict[int, Verdict], dict[int, Verdict]]:
    """Both orders for every question, concurrently (the engine paces them). The reference plays the
    teacher's part: Order.TEACHER_FIRST shows it first. The judge is asked for a JSON verdict when its
    endpoint takes a schema (core/reply_schemas.py), as the loop's referee is."""
    total, done = 2 * len(questions), [0]
    reply_format = await referee_format(engine)

    async def one(q: Question, order: Order) -> tuple[int, Order, Verdict]:
        first, second = shown_pair(order, reference[q.question_id], student[q.question_id])
        v = await _judge(engine, prompts, q.text, first, second, retries, reply_format)
        done[0] += 1
        if on_done:
            on_done(done[0], total)
        return q.question_id, order, v

    got = await asyncio.gather(*(one(q, o) for q in questions for o in (Order.TEACHER_FIRST, Order.STUDENT_FIRST)))
    ref_first = {qid: v for qid, o, v in got if o is Order.TEACHER_FIRST}
    student_first = {qid: v for qid, o, v in got if o is Order.STUDENT_FIRST}
    return ref_first, student_first


async def evaluate_vicuna(engine: LLMEngine, prompts: RolePrompts, questions: Sequence[Question],
                          student: Mapping[int, str], reference: Mapping[int, str], *, retries: int = 1,
                          on_done: Callable[[int, int], None] | None = None) -> VicunaOutcome:
    missing = [q.question_id for q in questions if q.question_id not in student or q.question_id not in reference]
    if missing:
        raise RuntimeError(f"no student or reference answer for question(s) {missing[:5]}")
    ref_first, student_first = await judge_pairs(engine, prompts, questions, student, reference,
                                                 retries=retries, on_done=on_done)
    out = VicunaOutcome(list(questions), dict(student), dict(reference), ref_first, student_first, [])
    out.ratios = vicuna_ratios(out.judged())
    return out


def _fmt_pair(v: Verdict) -> str:
    return "unscored" if v.scores is None else f"{v.scores[0]:g}/{v.scores[1]:g}"


def store_vicuna(store: Store, target: EvalTarget, outcome: VicunaOutcome, *, reference_name: str,
                 judge_model: str) -> None:
    """One row per category and one "overall" row (mode "judge"); `accuracy` = mean ratio / 100. The
    per-question samples (answers, both verdicts) hang on the overall row."""
    for ratio in outcome.ratios:
        detail = {"reference": reference_name, "judge": judge_model, "unscored": ratio.unscored,
                  "setting1_pct": ratio.setting1_pct, "setting2_pct": ratio.setting2_pct,
                  "reference_total": ratio.reference_total, "path": str(target.path)}
        samples: list[EvalSample] = []
        if ratio.category == "overall":
            for j, q in zip(outcome.judged(), outcome.questions, strict=True):
                both = j.ref_first is not None and j.student_first is not None
                score = (j.ref_first[1] + j.student_first[0]) / 2 if both else None  # type: ignore[index]
                samples.append(EvalSample(
                    q.question_id, q.text, outcome.student[q.question_id],
                    f"reference first (ref/student) {_fmt_pair(outcome.ref_first[q.question_id])}; "
                    f"student first (student/ref) {_fmt_pair(outcome.student_first[q.question_id])}",
                    outcome.reference[q.question_id], score))
        save_result(store, model=target.label, iteration=target.iteration, benchmark="vicuna", task=ratio.category,
                    mode="judge", n=ratio.n, correct=ratio.student_total, accuracy=ratio.mean_pct / 100,
                    skipped=ratio.unscored, detail=detail, samples=samples)


def format_vicuna(label: str, ratios: Sequence[VicunaRatio], reference_name: str) -> str:
    from lion_cli.core.paper_tables import VICUNA_PAPER

    lines = [f"VICUNA-80 — {label}: student total score as % of the reference ({reference_name})",
             f"{'category':<16}{'n':>4}{'unscored':>10}{'ref 1st %':>11}{'stud 1st %':>12}{'mean %':>9}"]
    for r in ratios:
        lines.append(f"{r.category:<16}{r.n:>4}{r.unscored:>10}{r.setting1_pct:>11.2f}{r.setting2_pct:>12.2f}"
                     f"{r.mean_pct:>9.2f}")
    paper = ", ".join(f"{k} {v:.2f} %" for k, v in VICUNA_PAPER.items())
    lines.append(f"paper (GPT-4 judge, vs ChatGPT): {paper}")
    return "\n".join(lines)
