"""Teacher answers for a pool: only those missing, each written the moment it arrives.

An instruction is never sent to the teacher twice with the same settings: the response row is
keyed by (instruction, model, settings hash), and the API engine's request cache sits beneath it."""

from __future__ import annotations

from lion_cli.core.types import Instruction, Pool, Role, Stage
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.progress import StepProgress, advance_each
from lion_cli.store.loop_rows import missing_in_pool, save_response
from lion_cli.store.pools import get_instructions


async def ensure_teacher_answers(ctx: LoopContext, iteration: int, pool: Pool, stage: Stage) -> int:
    """Ask the teacher for every pool member it has not answered; returns how many were asked."""
    model, h = ctx.keys.teacher_model, ctx.keys.teacher_hash
    missing = get_instructions(ctx.store, missing_in_pool(ctx.store, iteration, pool, Role.TEACHER, model, h))
    if not missing:
        return 0

    async def answer(ins: Instruction) -> None:
        res = await ctx.engine.chat(Role.TEACHER.value, ctx.prompts.teacher(ins.text, ins.input))
        save_response(ctx.store, ins.id, Role.TEACHER, model, h, iteration, res.text, res.finish_reason,
                      res.prompt_tokens, res.completion_tokens)

    bar = StepProgress(ctx.store, iteration, stage, "teacher", len(missing), spent=ctx.spent,
                       api=lambda: ctx.engine.state("teacher"))
    await advance_each(missing, answer, ctx.settings.teacher.max_concurrency, bar)
    return len(missing)
