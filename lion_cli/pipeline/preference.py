"""The preference stage: DPO on the referee's judgements (the LIONs pipeline's step after SFT).

Pairs come from the store: for an iteration's labelled Cache Pool items, chosen = the teacher's
answer, rejected = that iteration's student's answer, kept where the referee's averaged gap
(teacher − student over both orders) is at least [preference] margin (default [loop] tau). Unscored
items never pair; a cap keeps the widest gaps. It runs inside the imitation stage, after the SFT
student is trained (after every iteration's, or only the final one's: [preference] when), on the
pairs judged in the iterations before, and the tuned model becomes that iteration's student; its
detail is the imitation stage's "preference" entry. With [preference] online, the online rounds
(pipeline/online_preference.py) follow; the DPO job itself is pipeline/dpo_run.py's.
"""

from __future__ import annotations

from typing import Any

from lion_cli.config import Settings
from lion_cli.core.seed_records import user_text
from lion_cli.core.types import Role
from lion_cli.pipeline.context import LoopContext, judged_dpo_dir
from lion_cli.pipeline.dpo_run import finished_detail, tune_on_pairs
from lion_cli.pipeline.online_preference import run_online_rounds
from lion_cli.store.exports import judged_labels
from lion_cli.store.loop_rows import answers
from lion_cli.store.pools import get_instructions
from lion_cli.store.progress import student_path


def select_pairs(candidates: list[dict[str, Any]], margin: float, max_pairs: int) -> list[dict[str, Any]]:
    """Rows {gap, ...} with a gap ≥ margin (a None gap is an unscored item: never), the widest first
    when capped (ties by instruction id, so the choice is the same on every run)."""
    kept = [c for c in candidates if c.get("gap") is not None and c["gap"] >= margin]
    if max_pairs:
        kept = sorted(kept, key=lambda c: (-c["gap"], c["instruction_id"]))[:max_pairs]
    return sorted(kept, key=lambda c: c["instruction_id"])


def judged_pairs(ctx: LoopContext, before: int) -> list[dict[str, Any]]:
    """Every labelled item of the iterations before `before` with both answers stored under the
    project's keys: chosen = the teacher's, rejected = the student's that the referee judged. An item
    judged in several iterations keeps its latest judgement."""
    labels = [r for r in judged_labels(ctx.store) if r.iteration < before]
    ids = sorted({r.instruction_id for r in labels})
    by_id = {ins.id: ins for ins in get_instructions(ctx.store, ids)}
    teacher = answers(ctx.store, ids, Role.TEACHER.value, ctx.keys.teacher_model, ctx.keys.teacher_hash)
    students: dict[int, dict[int, str]] = {}
    latest: dict[int, dict[str, Any]] = {}
    for r in labels:  # by iteration, then instruction: a later judgement replaces an earlier one
        if r.iteration not in students:
            students[r.iteration] = answers(ctx.store, ids, Role.STUDENT.value, ctx.keys.student_label(r.iteration),
                                            ctx.keys.student_hash)
        student = students[r.iteration].get(r.instruction_id)
        if r.instruction_id not in teacher or student is None:
            continue
        ins = by_id[r.instruction_id]
        latest[r.instruction_id] = {
            "prompt": user_text(ins.text, ins.input), "chosen": teacher[r.instruction_id], "rejected": student,
            "instruction": ins.text, "input": ins.input, "instruction_id": r.instruction_id, "gap": r.gap,
            "iteration": r.iteration}
    return list(latest.values())


def runs_after(settings: Settings, iteration: int, iterations: int) -> bool:
    """Whether the preference stage follows this iteration's imitation."""
    p = settings.preference
    return (p.enabled or p.online) and (p.when == "each" or iteration == iterations)


async def run_preference(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    """DPO of the iteration's SFT student on the pairs judged so far ([preference] enabled), then the
    online rounds ([preference] online, pipeline/online_preference.py); the tuned model becomes the
    iteration's student. Resumable: a finished run is not repeated, a killed one goes on from its
    checkpoint with its stored reference log-probabilities (the pairs file is rewritten byte for byte)."""
    p = ctx.settings.preference
    detail = await judged_preference(ctx, iteration) if p.enabled else {}
    if not p.online:
        return detail
    rounds = await run_online_rounds(ctx, iteration)
    if p.enabled:
        return {**detail, "online": rounds}
    tuned = [r for r in rounds if not r.get("skipped")]
    return {"pairs": sum(r["pairs"] for r in rounds), "online": rounds, **({} if tuned else rounds[-1])}


async def judged_preference(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    """DPO on the referee's judgements of the iterations before (chosen = teacher, rejected = student)."""
    out_dir = judged_dpo_dir(ctx.students_dir, iteration)
    current = student_path(ctx.store, iteration)
    if current is None:
        raise RuntimeError(f"iteration {iteration}: no SFT student to tune")
    done = finished_detail(ctx, iteration, out_dir)
    if done is not None:
        return done
    p = ctx.settings.preference
    margin = p.pair_margin(ctx.settings.loop.tau)
    pairs = select_pairs(judged_pairs(ctx, iteration), margin, p.max_pairs)
    if not pairs:
        return {"pairs": 0, "margin": margin, "skipped": "no judged pair reaches the margin yet"}
    return {"margin": margin, **await tune_on_pairs(ctx, iteration, pairs, out_dir, "dpo", f"gap ≥ {margin}")}


async def with_preference(ctx: LoopContext, iteration: int, iterations: int, detail: dict[str, Any]) -> dict[str, Any]:
    """The imitation stage's detail, with the preference stage's under "preference" when it runs here."""
    if not runs_after(ctx.settings, iteration, iterations):
        return detail
    return {**detail, "preference": await run_preference(ctx, iteration)}
