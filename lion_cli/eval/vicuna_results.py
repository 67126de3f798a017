"""Vicuna-80's results: stored per setting and category, printed beside the paper's."""

from __future__ import annotations

from collections.abc import Sequence

from lion_cli.core.vicuna_score import VicunaRatio
from lion_cli.eval.targets import EvalTarget
from lion_cli.eval.vicuna import VicunaOutcome
from lion_cli.store.db import Store
from lion_cli.store.evals import EvalSample, save_result

SETTING_NAMES = {1: "setting 1 (one verdict, reference first)",
                 2: "setting 2 (evidence first, both orders × k samples)"}


def _verdict_text(outcome: VicunaOutcome, setting: int, question_id: int) -> str:
    parts = []
    for v in outcome.verdicts.get((setting, question_id), []):
        shown = "unscored" if v.scores is None else f"{v.scores[0]:g}/{v.scores[1]:g}"
        parts.append(f"{v.order.value.replace('_', ' ')} {shown}")
    return f"setting {setting} (first/second shown): " + "; ".join(parts)


def _samples(outcome: VicunaOutcome, setting: int) -> list[EvalSample]:
    out = []
    for q in outcome.questions:
        pair = outcome.scores(setting, q.question_id)
        out.append(EvalSample(q.question_id, q.text, outcome.student[q.question_id],
                              _verdict_text(outcome, setting, q.question_id), outcome.reference[q.question_id],
                              None if pair is None else pair[1]))
    return out


def store_vicuna(store: Store, target: EvalTarget, outcome: VicunaOutcome, *, reference_name: str,
                 judge_model: str) -> None:
    """One row per setting and category plus one "overall" row per setting (mode "setting1" or
    "setting2"); `accuracy` = the student's total as a fraction of the reference's. The per-question
    samples (answers, verdicts, the student's final score) hang on each setting's overall row."""
    for ratio in outcome.ratios:
        detail = {"reference": reference_name, "judge": judge_model, "setting": ratio.setting,
                  "unscored": ratio.unscored, "reference_total": ratio.reference_total, "path": str(target.path),
                  "evidence_samples": outcome.plan.evidence_samples if ratio.setting == 2 else 1}
        samples = _samples(outcome, ratio.setting) if ratio.category == "overall" else []
        save_result(store, model=target.label, iteration=target.iteration, benchmark="vicuna", task=ratio.category,
                    mode=f"setting{ratio.setting}", n=ratio.n, correct=ratio.student_total, accuracy=ratio.pct / 100,
                    skipped=ratio.unscored, detail=detail, samples=samples)


def format_vicuna(label: str, ratios: Sequence[VicunaRatio], reference_name: str, judge_model: str) -> str:
    from lion_cli.core.paper_tables import VICUNA_PAPER

    lines = [f"VICUNA-80 — {label}: student total score as % of the reference ({reference_name}), "
             f"judge {judge_model}"]
    for setting in sorted({r.setting for r in ratios}):
        lines += [SETTING_NAMES[setting],
                  f"  {'category':<16}{'n':>4}{'unscored':>10}{'student':>10}{'reference':>11}{'%':>9}"]
        lines += [f"  {r.category:<16}{r.n:>4}{r.unscored:>10}{r.student_total:>10.2f}{r.reference_total:>11.2f}"
                  f"{r.pct:>9.2f}" for r in ratios if r.setting == setting]
    paper = ", ".join(f"{k} {v:.2f} %" for k, v in VICUNA_PAPER.items())
    lines.append(f"paper (GPT-4 judge, vs ChatGPT): {paper}")
    return "\n".join(lines)
