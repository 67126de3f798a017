"""Teacher answers for a pool: only those missing, each written the moment it arrives.

An instruction is never sent to the teacher twice with the same settings: the response row is
keyed by (instruction, model, settings hash), and the API engine's request cache sits beneath it.
An instruction the teacher's server refused for good (too long for its context, ...) is marked failed
and left out, here and in every later pool, until `lion retry-failed` clears the mark. An empty reply
or an error text in its place is asked again with a fresh sample (core/teacher_answers.py); after
TEACHER_ATTEMPTS such replies the instruction is marked failed, never trained on."""

from __future__ import annotations

from functools import partial

from lion_cli.core.teacher_answers import TEACHER_ATTEMPTS, unusable_answer
from lion_cli.core.types import Instruction, Pool, Role, Stage
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.item_failures import Item, mark_failed, or_failed, report_failures
from lion_cli.pipeline.progress import StepProgress, advance_each, role_activity
from lion_cli.store.failures import failed_keys, teacher_item
from lion_cli.store.loop_rows import missing_in_pool, save_response
from lion_cli.store.pools import get_instructions


async def ensure_teacher_answers(ctx: LoopContext, iteration: int, pool: Pool, stage: Stage) -> int:
    """Ask the teacher for every pool member it has not answered; returns how many were asked."""
    model, h = ctx.keys.teacher_model, ctx.keys.teacher_hash
    failed = failed_keys(ctx.store, Role.TEACHER.value)
    missing = [ins for ins in get_instructions(ctx.store, missing_in_pool(ctx.store, iteration, pool, Role.TEACHER,
                                                                          model, h))
               if teacher_item(ins.id) not in failed]
    if not missing:
        return 0

    async def answer(ins: Instruction) -> None:
        item = Item(Role.TEACHER.value, teacher_item(ins.id), ins.id)
        messages = ctx.prompts.teacher(ins.text, ins.input)
        why = ""
        for attempt in range(TEACHER_ATTEMPTS):  # each attempt its own sample (and request-cache key)
            res = await or_failed(ctx, iteration, stage, item,
                                  partial(ctx.engine.chat, Role.TEACHER.value, messages, sample_index=attempt))
            if res is None:
                return
            if res.finish_reason == "content_filter":  # what came back is not the answer
                mark_failed(ctx, iteration, stage, item, None, "the reply was stopped by the server's content filter")
                return
            why = unusable_answer(res.text) or ""
            if not why:
                save_response(ctx.store, ins.id, Role.TEACHER, model, h, iteration, res.text, res.finish_reason,
                              res.prompt_tokens, res.completion_tokens)
                return
        mark_failed(ctx, iteration, stage, item, None, f"the teacher's reply was {why} in {TEACHER_ATTEMPTS} attempts")

    bar = StepProgress(ctx.store, iteration, stage, "teacher", len(missing), spent=ctx.spent,
                       api=lambda: role_activity(ctx, "teacher"))
    await advance_each(missing, answer, ctx.settings.teacher.items_in_flight, bar)
    report_failures(ctx, iteration, stage, Role.TEACHER.value)
    return len(missing)
