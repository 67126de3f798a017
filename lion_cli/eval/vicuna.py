"""Vicuna-80 as the paper ran it: the student and a reference answer the 80 questions; the judge (its
own `[judge]` endpoint, GPT-4 by default) scores both answers in the paper's two settings
(core/vicuna_score.py has the arithmetic):

- setting 1: one verdict per question, the reference shown first, scores before the explanation;
- setting 2: Multiple Evidence Calibration (evidence before scores, k samples at the evidence
  temperature) with Balanced Position Calibration (both orders): 2k verdicts per question.

Student answers come from the student engine (greedy, like the benchmarks). The reference is the
teacher (its endpoint and prompt) or gpt-3.5-turbo's stored answers, the paper's "ChatGPT". The judge
is asked for a JSON verdict when its endpoint takes a schema (core/reply_schemas.py: setting 2's has
the evidence first), free text otherwise; an unreadable verdict is asked again with the next sample
index (up to `retries` times). Every call goes through the engine, so it is cached in the store,
paced, retried and logged like the loop's: run again after a kill, only the missing verdicts are paid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lion_cli.core.judging import ask_referee
from lion_cli.core.prompts import Template, render
from lion_cli.core.reply_schemas import JUDGE_EVIDENCE_REPLY, JUDGE_SCORES_REPLY, ReplySchema
from lion_cli.core.types import Order, Role, shown_pair
from lion_cli.core.vicuna_score import Pair, VicunaJudged, VicunaRatio, setting2_pair, vicuna_ratios

if TYPE_CHECKING:
    from lion_cli.core.role_prompts import RolePrompts
    from lion_cli.llm.engine import LLMEngine

# The judge's templates in prompts/: each setting's free-text prompt and its variant for a JSON reply.
JUDGE_TEMPLATES: tuple[str, ...] = ("judge_scores", "judge_scores_structured", "judge_evidence",
                                    "judge_evidence_structured")
_SETTING_PROMPT = {1: ("judge_scores", JUDGE_SCORES_REPLY), 2: ("judge_evidence", JUDGE_EVIDENCE_REPLY)}


@dataclass(frozen=True, slots=True)
class Question:
    question_id: int
    text: str
    category: str


@dataclass(frozen=True, slots=True)
class JudgePlan:
    """How the judge is asked: which settings, setting 2's k and sampling temperature, and how many
    times an unreadable verdict is asked again."""

    settings: tuple[int, ...] = (1, 2)
    evidence_samples: int = 3
    evidence_temperature: float = 1.0
    retries: int = 1

    def calls_per_question(self) -> int:
        return (1 if 1 in self.settings else 0) + (2 * self.evidence_samples if 2 in self.settings else 0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One verdict: (first shown, second shown) scores or None, the raw reply, the attempts it took."""

    order: Order
    scores: Pair | None
    raw: str
    attempts: int


@dataclass
class VicunaOutcome:
    questions: list[Question]
    student: dict[int, str]
    reference: dict[int, str]
    verdicts: dict[tuple[int, int], list[Verdict]]  # (setting, question id) → its verdicts
    plan: JudgePlan
    ratios: list[VicunaRatio] = field(default_factory=list)

    def scores(self, setting: int, question_id: int) -> Pair | None:
        """(reference, student) in `setting`, None when unscored or not run."""
        got = self.verdicts.get((setting, question_id), [])
        if setting == 1:
            return (got[0].scores[0], got[0].scores[1]) if got and got[0].scores is not None else None
        return setting2_pair([(v.order, v.scores) for v in got])

    def judged(self) -> list[VicunaJudged]:
        return [VicunaJudged(q.question_id, q.category, self.scores(1, q.question_id), self.scores(2, q.question_id))
                for q in self.questions]


def questions_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Question]:
    return [Question(int(r["question_id"]), str(r["text"]), str(r["category"])) for r in rows]


async def teacher_references(engine: LLMEngine, prompts: RolePrompts, questions: Sequence[Question]
                             ) -> dict[int, str]:
    """The teacher's answers to the questions (cached in the store like any teacher answer)."""
    async def one(q: Question) -> tuple[int, str]:
        res = await engine.chat(Role.TEACHER.value, prompts.teacher(q.text, ""))
        return q.question_id, res.text

    return dict(await asyncio.gather(*(one(q) for q in questions)))


@dataclass(frozen=True)
class _Asking:
    """One setting's way of asking: its template and schema, the response_format (None: free text)."""

    template: Template
    schema: ReplySchema
    response_format: dict[str, Any] | None
    temperature: float | None


async def _askings(engine: LLMEngine, templates: Mapping[str, Template], plan: JudgePlan) -> dict[int, _Asking]:
    out = {}
    for setting in plan.settings:
        name, schema = _SETTING_PROMPT[setting]
        fmt = await engine.response_format(Role.JUDGE.value, schema)
        out[setting] = _Asking(templates[f"{name}_structured" if fmt is not None else name], schema, fmt,
                               plan.evidence_temperature if setting == 2 else None)
    return out


def _verdict_jobs(plan: JudgePlan) -> list[tuple[int, Order, int]]:
    """(setting, order, sample) of every verdict one question gets: setting 1 once, reference first;
    setting 2 k times in each order."""
    jobs = [(1, Order.TEACHER_FIRST, 0)] if 1 in plan.settings else []
    if 2 in plan.settings:
        jobs += [(2, o, k) for o in (Order.TEACHER_FIRST, Order.STUDENT_FIRST) for k in range(plan.evidence_samples)]
    return jobs


async def judge_all(engine: LLMEngine, templates: Mapping[str, Template], questions: Sequence[Question],
                    student: Mapping[int, str], reference: Mapping[int, str], plan: JudgePlan,
                    on_done: Callable[[int, int], None] | None = None) -> dict[tuple[int, int], list[Verdict]]:
    """Every verdict of every question, concurrently (the engine paces them). Sample k of an order asks
    with sample indexes k·(retries+1) … so its retries never reuse another sample's request."""
    askings = await _askings(engine, templates, plan)
    jobs = _verdict_jobs(plan)
    total, done = len(jobs) * len(questions), [0]

    async def one(q: Question, setting: int, order: Order, k: int) -> tuple[int, int, Verdict]:
        asking = askings[setting]
        first, second = shown_pair(order, reference[q.question_id], student[q.question_id])
        messages = render(asking.template, instruction=q.text, answer_1=first, answer_2=second)
        base = k * (plan.retries + 1)
        last = await ask_referee(engine, messages, attempts=base + plan.retries + 1, first_attempt=base,
                                 response_format=asking.response_format, role=Role.JUDGE.value,
                                 schema=asking.schema, temperature=asking.temperature)
        done[0] += 1
        if on_done:
            on_done(done[0], total)
        if last is None:
            return setting, q.question_id, Verdict(order, None, "", 0)
        return setting, q.question_id, Verdict(order, last.scores, last.raw, last.attempt - base + 1)

    got = await asyncio.gather(*(one(q, s, o, k) for q in questions for s, o, k in jobs))
    verdicts: dict[tuple[int, int], list[Verdict]] = {}
    for setting, qid, v in got:
        verdicts.setdefault((setting, qid), []).append(v)
    return verdicts


async def evaluate_vicuna(engine: LLMEngine, templates: Mapping[str, Template], questions: Sequence[Question],
                          student: Mapping[int, str], reference: Mapping[int, str], plan: JudgePlan | None = None,
                          on_done: Callable[[int, int], None] | None = None) -> VicunaOutcome:
    plan = plan or JudgePlan()
    missing = [q.question_id for q in questions if q.question_id not in student or q.question_id not in reference]
    if missing:
        raise RuntimeError(f"no student or reference answer for question(s) {missing[:5]}")
    verdicts = await judge_all(engine, templates, questions, student, reference, plan, on_done)
    out = VicunaOutcome(list(questions), dict(student), dict(reference), verdicts, plan)
    out.ratios = vicuna_ratios(out.judged(), plan.settings)
    return out
