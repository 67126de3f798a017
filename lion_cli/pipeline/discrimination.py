"""Stage 2, discrimination: teacher and current student answer the Cache Pool, the referee scores
each pair in both orders, and each instruction is labelled hard (gap ≥ τ), easy, or unscored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lion_cli.core.judging import RefereeAttempt, ask_referee, referee_format
from lion_cli.core.types import Order, Pool, Role, Stage, shown_pair, teacher_student
from lion_cli.pipeline.context import LoopContext, student_answers_dir
from lion_cli.pipeline.item_failures import Item, or_failed, report_failures
from lion_cli.pipeline.job_thread import relay, run_recorded
from lion_cli.pipeline.progress import StepProgress, advance_each, log, role_activity
from lion_cli.pipeline.teacher import ensure_teacher_answers
from lion_cli.store.failures import active_failures, failed_keys, referee_item
from lion_cli.store.jobs import start_job
from lion_cli.store.loop_rows import (
    answers,
    missing_in_pool,
    replace_labels,
    save_judgement,
    save_response,
    verdicts,
)
from lion_cli.store.pools import get_instructions, pool_ids
from lion_cli.store.progress import student_path


def row_seed(rng_seed: int, instruction_id: int) -> int:
    """The student's sampling seed for one instruction: fixed per (project seed, instruction), so an
    answer does not depend on batching, process count or a resume."""
    return (rng_seed * 1_000_003 + instruction_id * 7_919) % (2**31 - 1)


async def student_answers(ctx: LoopContext, iteration: int) -> int:
    from lion_cli.pipeline.student_specs import gen_spec, launch_config
    from lion_cli.student.jobs import generate

    label, h = ctx.keys.student_label(iteration), ctx.keys.student_hash
    missing = get_instructions(ctx.store, missing_in_pool(ctx.store, iteration, Pool.CACHE, Role.STUDENT,
                                                          label, h))
    if not missing:
        return 0
    model = student_path(ctx.store, iteration)
    if not model:
        raise RuntimeError(f"iteration {iteration}: no trained student (imitation did not finish)")
    work = student_answers_dir(ctx.project_dir, iteration)
    work.mkdir(parents=True, exist_ok=True)
    inp = work / "input.jsonl"
    inp.write_text("".join(json.dumps({"id": i.id, "instruction": i.text, "input": i.input,
                                       "seed": row_seed(ctx.settings.loop.rng_seed, i.id)}) + "\n"
                           for i in missing), encoding="utf-8")
    bar = StepProgress(ctx.store, iteration, Stage.DISCRIMINATION, "student", len(missing))
    spec = gen_spec(ctx.settings, model_path=Path(model), input_path=inp, output_path=work / "output.jsonl")
    # A job row times the rows: the whole-run ETA takes the student's answering rate from it (core/eta.py).
    job = start_job(ctx.store, iteration, "generate", spec.to_json(), str(work), len(missing))
    launch = launch_config(ctx.settings, for_generation=True)
    on_progress = relay(lambda done, total: bar.advance(done - bar.done))
    rows = await run_recorded(ctx.store, job, lambda cancel: generate(spec, launch, on_progress=on_progress,
                                                                      cancel=cancel), bar.close)
    for ins in missing:
        r = rows.get(ins.id) or rows.get(str(ins.id))  # type: ignore[call-overload]
        if r is None:
            raise RuntimeError(f"student generation returned no answer for instruction {ins.id}")
        save_response(ctx.store, ins.id, Role.STUDENT, label, h, iteration, r["text"],
                      r.get("finish_reason", ""), r.get("prompt_tokens", 0), r.get("completion_tokens", 0))
    return len(missing)


async def referee_pairs(ctx: LoopContext, iteration: int) -> int:
    """Both orders for every Cache Pool item; an unreadable reply is asked again with a fresh sample
    (`referee_retries` times), then left unscored."""
    ids = pool_ids(ctx.store, iteration, Pool.CACHE)
    teacher = answers(ctx.store, ids, Role.TEACHER, ctx.keys.teacher_model, ctx.keys.teacher_hash)
    student = answers(ctx.store, ids, Role.STUDENT, ctx.keys.student_label(iteration), ctx.keys.student_hash)
    attempts_allowed = ctx.settings.loop.referee_retries + 1
    seen: dict[tuple[int, Order], list[bool]] = {}
    for v in verdicts(ctx.store, iteration):
        seen.setdefault((v.instruction_id, v.order), []).append(v.parse_error is None)
    failed = failed_keys(ctx.store, Role.REFEREE.value)
    todo = [(i, o) for i in ids if i in teacher and i in student for o in Order
            if not any(seen.get((i, o), [])) and len(seen.get((i, o), [])) < attempts_allowed
            and referee_item(iteration, i, o) not in failed]
    if not todo:
        return 0
    texts = {i.id: i for i in get_instructions(ctx.store, sorted({i for i, _ in todo}))}
    model = ctx.settings.referee.model
    reply_format = await referee_format(ctx.engine)   # a JSON schema when the endpoint takes one

    async def judge(item: tuple[int, Order]) -> None:
        iid, order = item
        ins = texts[iid]

        def record(a: RefereeAttempt) -> None:
            t, s = teacher_student(order, *a.scores) if a.scores is not None else (None, None)
            save_judgement(ctx.store, iid, iteration, order, a.attempt, model, a.raw, t, s, a.parse_error)

        messages = ctx.prompts.referee(ins.text, ins.input, *shown_pair(order, teacher[iid], student[iid]),
                                       structured=reply_format is not None)
        pair = Item(Role.REFEREE.value, referee_item(iteration, iid, order), iid)
        await or_failed(ctx, iteration, Stage.DISCRIMINATION, pair, lambda: ask_referee(
            ctx.engine, messages, attempts=attempts_allowed, first_attempt=len(seen.get(item, [])), record=record,
            response_format=reply_format))

    bar = StepProgress(ctx.store, iteration, Stage.DISCRIMINATION, "referee", len(todo), spent=ctx.spent,
                       api=lambda: role_activity(ctx, "referee"))
    await advance_each(todo, judge, ctx.settings.referee.items_in_flight, bar)
    report_failures(ctx, iteration, Stage.DISCRIMINATION, Role.REFEREE.value)
    return len(todo)


def label_pool(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    from lion_cli.core.discrimination import label_items, summarize

    ids = pool_ids(ctx.store, iteration, Pool.CACHE)
    rows = label_items(ids, verdicts(ctx.store, iteration), ctx.settings.loop.tau)
    replace_labels(ctx.store, iteration, rows)
    # Unscored because a request for them failed for good: the teacher's answer, or a referee order.
    failed_ids = {f.instruction_id for f in active_failures(ctx.store)
                  if f.role == Role.TEACHER.value or (f.role == Role.REFEREE.value and f.iteration == iteration)}
    summary: dict[str, Any] = {**summarize(rows), "failed_items": len(failed_ids & set(ids))}
    failed = f" ({summary['failed_items']} of them failed items)" if summary["failed_items"] else ""
    log(f"it{iteration} discrimination · {summary['hard']} hard, {summary['easy']} easy, "
        f"{summary['unscored']} unscored{failed}; hard rate {summary['hard_rate']:.2f}, "
        f"order consistency {summary['order_consistency']:.2f}")
    return summary


async def run_discrimination(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    asked = await ensure_teacher_answers(ctx, iteration, Pool.CACHE, Stage.DISCRIMINATION)
    generated = await student_answers(ctx, iteration)
    judged = await referee_pairs(ctx, iteration)
    summary = label_pool(ctx, iteration)
    return {"teacher_asked": asked, "student_answered": generated, "referee_pairs": judged, **summary}
