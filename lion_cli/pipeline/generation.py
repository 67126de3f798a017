"""Stage 3, generation: new instructions from hard and easy seeds, filtered and checked for novelty;
they replace the Train Pool and join the Cache Pool of the next iteration.

Generator calls are made concurrently a window at a time, but candidates are *decided* strictly in
slot order, so the accepted set is the same whatever order replies arrive in and however often the
run is killed and resumed (each decision is written before the next is made)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from lion_cli.core.types import Label, Origin, Pool, Role, Stage
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.progress import StepProgress, log
from lion_cli.store.loop_rows import CandidateRow, candidates, label_ids, save_candidate, save_tokens, tokens_for
from lion_cli.store.pools import add_instruction, get_instructions, pool_ids, set_pool


def _novelty_index(ctx: LoopContext, iteration: int) -> tuple[Any, list[str]]:
    """The Cache Pool's ROUGE-L tokens, from the store's cache (tokenised once, ever)."""
    from lion_cli.core.novelty import NoveltyIndex, tokenize

    ids = pool_ids(ctx.store, iteration, Pool.CACHE)
    cached = tokens_for(ctx.store, ids)
    missing = [i for i in ids if cached.get(i) is None]
    if missing:
        fresh = [(ins.id, " ".join(tokenize(ins.text))) for ins in get_instructions(ctx.store, missing)]
        save_tokens(ctx.store, fresh)
        cached.update(dict(fresh))
    index = NoveltyIndex()
    texts: list[str] = []
    names = {i.id: i.text for i in get_instructions(ctx.store, ids)}
    for i in ids:
        index.add((cached[i] or "").split())
        texts.append(names[i])
    return index, texts


async def run_generation(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    from lion_cli.core.candidates import clean_generator_reply, reject_reason, sample_seeds
    from lion_cli.core.novelty import tokenize
    from lion_cli.core.prompts import GENERATOR_MARKERS

    loop = ctx.settings.loop
    hard, easy = label_ids(ctx.store, iteration, Label.HARD), label_ids(ctx.store, iteration, Label.EASY)
    if not hard and not easy:
        raise RuntimeError(f"iteration {iteration}: no scored instructions to seed the generator "
                           "(every referee reply was unreadable?)")
    quota = {"hard": round(loop.new_per_iteration * loop.hard_ratio)}
    quota["easy"] = loop.new_per_iteration - quota["hard"]
    if not hard:
        quota = {"hard": 0, "easy": loop.new_per_iteration}
    elif not easy:
        quota = {"hard": loop.new_per_iteration, "easy": 0}
    max_slots = int(loop.new_per_iteration * loop.max_attempts_factor)
    plan = sample_seeds(hard, easy, max_slots, loop.hard_ratio, loop.rng_seed, iteration)
    seeds = {i.id: i for i in get_instructions(ctx.store, sorted({sid for _, sid in plan}))}

    index, index_texts = _novelty_index(ctx, iteration)
    accepted: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    new_ids: list[int] = []
    done = candidates(ctx.store, iteration)
    for c in done:  # replay decisions already written by an earlier (killed) run
        if c.accepted and c.instruction_id is not None:
            accepted[c.kind] += 1
            new_ids.append(c.instruction_id)
            index.add(tokenize(c.text))
            index_texts.append(c.text)
        else:
            reasons[c.reject_reason or "unknown"] += 1
    next_slot = (done[-1].slot + 1) if done else 0

    def full(kind: str) -> bool:
        return accepted[kind] >= quota[kind]

    bar = StepProgress(ctx.store, iteration, Stage.GENERATION, "generator", loop.new_per_iteration,
                       spent=ctx.spent)
    bar.advance(sum(accepted.values()))
    window = max(4, ctx.settings.generator.max_concurrency)
    slot = next_slot
    try:
        while slot < max_slots and not (full("hard") and full("easy")):
            batch = [s for s in range(slot, min(slot + window, max_slots)) if not full(plan[s][0])]
            slot = min(slot + window, max_slots)

            async def ask(s: int) -> Any:
                kind, sid = plan[s]
                seed = seeds[sid]
                msgs = ctx.prompts.generator(kind, seed.text, seed.input)
                return await ctx.engine.chat(Role.GENERATOR.value, msgs, sample_index=s,
                                             seed=loop.rng_seed * 100_003 + s)

            replies = await asyncio.gather(*(ask(s) for s in batch))
            for s, res in zip(batch, replies, strict=True):
                kind, sid = plan[s]
                if full(kind):
                    continue
                text, inp = clean_generator_reply(res.text)
                reason = reject_reason(text, res.finish_reason, GENERATOR_MARKERS)
                score, nearest, iid = None, None, None
                toks = tokenize(text)
                if reason is None:
                    score, pos = index.max_rouge(toks)
                    nearest = index_texts[pos] if pos is not None and pos >= 0 else None
                    if score > loop.novelty_threshold:
                        reason = "too_similar"
                with ctx.store.tx():
                    if reason is None:
                        origin = Origin.HARD if kind == "hard" else Origin.EASY
                        iid = add_instruction(ctx.store, text, inp, origin, iteration + 1, sid, " ".join(toks))
                    save_candidate(ctx.store, iteration, CandidateRow(
                        s, kind, sid, res.text, text, inp, res.finish_reason, reason is None, reason, score,
                        nearest, iid))
                if reason is None and iid is not None:
                    accepted[kind] += 1
                    new_ids.append(iid)
                    index.add(toks)
                    index_texts.append(text)
                    bar.advance()
                else:
                    reasons[reason or "duplicate"] += 1
    finally:
        bar.close()

    met = full("hard") and full("easy")
    if not met:
        log(f"it{iteration} generation · attempt limit reached ({max_slots} generator calls): "
            f"{accepted['hard']}/{quota['hard']} hard, {accepted['easy']}/{quota['easy']} easy accepted")
    # The new instructions replace the Train Pool and join the Cache Pool.
    set_pool(ctx.store, iteration + 1, Pool.TRAIN, new_ids)
    set_pool(ctx.store, iteration + 1, Pool.CACHE, [*pool_ids(ctx.store, iteration, Pool.CACHE), *new_ids])
    return {"accepted_hard": accepted["hard"], "accepted_easy": accepted["easy"], "quota": quota,
            "quota_met": met, "rejected": dict(reasons), "attempts": len(candidates(ctx.store, iteration))}
