"""Stage 3, generation: new instructions from hard and easy seeds, filtered and checked for novelty;
they replace the Train Pool and join the Cache Pool of the next iteration.

Generator calls are made concurrently a window at a time, but candidates are *decided* strictly in
slot order, so the accepted set is the same whatever order replies arrive in and however often the
run is killed and resumed (each decision is written before the next is made).

When the generator's endpoint takes a JSON schema (its `structured` setting), each reply is asked for
as {"instruction": …} (core/reply_schemas.py GENERATOR_REPLY) and read strictly; a reply that does not
fit is rejected as "unreadable" (or "cut_off" when it hit max_tokens), and the next slot goes on.
A slot whose request the server refused for good (a 400, 413, 422) is rejected as "request_failed" and
marked failed (store/failures.py); `lion rerun --stage generation` asks it again."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lion_cli.core.api import ChatResult
from lion_cli.core.candidates import (
    CandidateDecision,
    clean_generator_reply,
    decide_candidate,
    generation_quota,
    sample_seeds,
)
from lion_cli.core.loop_protocol import LoopProtocol, loop_protocol
from lion_cli.core.novelty import NoveltyIndex, tokenize
from lion_cli.core.referee import ParseFailure
from lion_cli.core.reply_schemas import GENERATOR_REPLY, parse_structured_instruction
from lion_cli.core.types import Instruction, Label, Origin, Pool, Role, Stage
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.item_failures import Item, or_failed, report_failures
from lion_cli.pipeline.progress import StepProgress, log, role_activity
from lion_cli.store.failures import generator_item
from lion_cli.store.loop_rows import CandidateRow, candidates, label_ids, save_candidate, save_tokens
from lion_cli.store.pools import add_instruction, carry_pool, get_instructions, pool_texts, set_pool

REQUEST_FAILED = "request_failed"   # the reject reason of a slot whose request failed for good


@dataclass
class PoolNovelty:
    """The novelty filter's pool (the Cache Pool, then each accepted candidate) and its texts, which
    name a candidate's nearest item."""

    index: NoveltyIndex
    texts: list[str]

    def add(self, tokens: list[str], text: str) -> None:
        self.index.add(tokens)
        self.texts.append(text)

    def text_at(self, pos: int | None) -> str | None:
        return self.texts[pos] if pos is not None and pos >= 0 else None


def pool_novelty(ctx: LoopContext, iteration: int) -> PoolNovelty:
    """The Cache Pool's ROUGE-L tokens, from the store's cache (tokenised once, ever)."""
    members = pool_texts(ctx.store, iteration, Pool.CACHE)
    fresh = [(i, " ".join(tokenize(text))) for i, text, tokens in members if tokens is None]
    if fresh:
        save_tokens(ctx.store, fresh)
    cached = dict(fresh)
    # One bulk build: adding tens of thousands of items one by one costs seconds every stage.
    index = NoveltyIndex((tokens if tokens is not None else cached[i]).split() for i, _, tokens in members)
    return PoolNovelty(index, [text for _, text, _ in members])


@dataclass
class Tally:
    """What the stage has decided so far against its quota."""

    quota: dict[Label, int]
    accepted: Counter[Label] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    new_ids: list[int] = field(default_factory=list)

    def full(self, kind: Label) -> bool:
        return self.accepted[kind] >= self.quota[kind]

    @property
    def met(self) -> bool:
        return self.full(Label.HARD) and self.full(Label.EASY)

    def accept(self, kind: Label, instruction_id: int) -> None:
        self.accepted[kind] += 1
        self.new_ids.append(instruction_id)


@dataclass
class GenerationRun:
    """One iteration's generation stage: the seeded slot plan, asked a window at a time and decided in
    slot order, each decision written (with its new instruction) in one transaction."""

    ctx: LoopContext
    iteration: int
    plan: list[tuple[Label, int]]
    seeds: dict[int, Instruction]
    tally: Tally
    novelty: PoolNovelty
    reply_format: dict[str, Any] | None = None   # a JSON schema for the replies, when the endpoint takes one

    @property
    def protocol(self) -> LoopProtocol:
        """The loop protocol's generator rules: max_tokens per seed, rejected words."""
        return loop_protocol(self.ctx.settings.loop.protocol)

    def replay(self) -> int:
        """Take back the decisions an earlier (killed) run wrote; returns the next slot to ask."""
        done = candidates(self.ctx.store, self.iteration)
        for c in done:
            if c.accepted and c.instruction_id is not None:
                self.tally.accept(Label(c.kind), c.instruction_id)
                self.novelty.add(tokenize(c.text), c.text)
            else:
                self.tally.rejected[c.reject_reason or "unknown"] += 1
        return (done[-1].slot + 1) if done else 0

    async def ask(self, slot: int) -> ChatResult | None:
        """The slot's reply, or None when its request failed for good (the slot is marked failed)."""
        kind, seed_id = self.plan[slot]
        seed = self.seeds[seed_id]
        item = Item(Role.GENERATOR.value, generator_item(self.iteration, slot), seed_id)
        max_tokens = self.protocol.generator_max_tokens(f"{seed.text} {seed.input}",
                                                        self.ctx.settings.generator.max_tokens,
                                                        self.reply_format is not None)
        return await or_failed(self.ctx, self.iteration, Stage.GENERATION, item, lambda: self.ctx.engine.chat(
            Role.GENERATOR.value, self.ctx.prompts.generator(kind, seed.text, seed.input), sample_index=slot,
            seed=self.ctx.settings.loop.rng_seed * 100_003 + slot, max_tokens=max_tokens,
            response_format=self.reply_format))

    def read(self, reply: ChatResult) -> tuple[str, str, str | None]:
        """The candidate in a reply (instruction, input) and, when a structured reply does not fit its
        schema, why it is rejected unread."""
        body = reply.text
        if self.reply_format is not None:
            got = parse_structured_instruction(reply.text)
            if isinstance(got, ParseFailure):
                return "", "", "cut_off" if reply.truncated else "unreadable"
            body = got
        text, inp = clean_generator_reply(body)
        return text, inp, None

    def decide(self, slot: int, reply: ChatResult | None) -> bool:
        """Filter one reply and write the decision; True when the candidate is accepted. A slot whose
        request failed for good is written as rejected (`request_failed`), so the slot order holds."""
        kind, seed_id = self.plan[slot]
        unread: str | None = REQUEST_FAILED
        if reply is None:
            reply, text, inp = ChatResult("", "", 0, 0, 0.0, False, "", ""), "", ""
        else:
            text, inp, unread = self.read(reply)
        tokens = tokenize(text)
        d = CandidateDecision(unread, None, None) if unread else decide_candidate(
            text, reply.finish_reason, tokens, self.novelty.index, self.ctx.settings.loop.novelty_threshold,
            rejected_words=self.protocol.rejected_words)
        store = self.ctx.store

        def row(instruction_id: int | None) -> CandidateRow:
            return CandidateRow(slot, kind.value, seed_id, reply.text, text, inp, reply.finish_reason,
                                instruction_id is not None, d.reason, d.max_rouge, self.novelty.text_at(d.nearest),
                                instruction_id)

        if d.reason is not None:
            with store.tx():
                save_candidate(store, self.iteration, row(None))
            self.tally.rejected[d.reason] += 1
            return False
        with store.tx():
            iid = add_instruction(store, text, inp, Origin(kind.value), self.iteration + 1, seed_id, " ".join(tokens))
            save_candidate(store, self.iteration, row(iid))
        self.tally.accept(kind, iid)
        self.novelty.add(tokens, text)
        return True

    async def ask_and_decide(self, first_slot: int, bar: StepProgress) -> None:
        """Ask a window of slots concurrently, decide them in slot order, until the quota is met or the
        plan runs out. Slots whose kind is already full are skipped."""
        slot, end = first_slot, len(self.plan)
        while slot < end and not self.tally.met:
            window = self.window(slot)
            batch = [s for s in range(slot, min(slot + window, end)) if not self.tally.full(self.plan[s][0])]
            slot = min(slot + window, end)
            # Every reply of the window is awaited, even after one call failed: what is on its way
            # is written (up to the failure, in slot order; the rest are in the request cache).
            replies = await asyncio.gather(*(self.ask(s) for s in batch), return_exceptions=True)
            for s, reply in zip(batch, replies, strict=True):
                if isinstance(reply, BaseException):
                    raise reply
                if not self.tally.full(self.plan[s][0]) and self.decide(s, reply):
                    bar.advance()


    def window(self, decided: int) -> int:
        """How many slots to ask next. Online: the generator's concurrency. In batch mode: the slots the
        quota still needs at the acceptance seen so far in the stage (`decided` slots, all of them on the
        first batch: it asks exactly what is missing), so a few batches fill the quota — neither one batch
        of the whole plan (up to three times the quota, every line paid) nor dozens of small ones."""
        g = self.ctx.settings.generator
        if g.mode != "batch":
            return max(4, g.items_in_flight)
        accepted = sum(self.tally.accepted.values())
        rate = max(accepted, 1) / decided if decided else 1.0
        missing = sum(max(quota - self.tally.accepted[kind], 0) for kind, quota in self.tally.quota.items())
        return max(4, math.ceil(missing / min(rate, 1.0)))


def seed_labels(ctx: LoopContext, iteration: int) -> tuple[list[int], list[int]]:
    """The hard and the easy instructions of this iteration, the generator's seeds."""
    hard, easy = label_ids(ctx.store, iteration, Label.HARD), label_ids(ctx.store, iteration, Label.EASY)
    if not hard and not easy:
        raise RuntimeError(f"iteration {iteration}: no scored instructions to seed the generator "
                           "(every referee reply was unreadable?)")
    return hard, easy


def next_pools(ctx: LoopContext, iteration: int, new_ids: list[int]) -> None:
    """The new instructions replace the Train Pool and join the Cache Pool."""
    set_pool(ctx.store, iteration + 1, Pool.TRAIN, new_ids)
    carry_pool(ctx.store, Pool.CACHE, iteration, iteration + 1, new_ids)


async def run_generation(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    loop = ctx.settings.loop
    hard, easy = seed_labels(ctx, iteration)
    tally = Tally(generation_quota(loop.new_per_iteration, loop.hard_ratio, bool(hard), bool(easy)))
    plan = sample_seeds(hard, easy, int(loop.new_per_iteration * loop.max_attempts_factor), loop.hard_ratio,
                        loop.rng_seed, iteration)
    seeds = {i.id: i for i in get_instructions(ctx.store, sorted({sid for _, sid in plan}))}
    run = GenerationRun(ctx, iteration, plan, seeds, tally, pool_novelty(ctx, iteration))
    first_slot = run.replay()
    if not tally.met and first_slot < len(plan):
        run.reply_format = await ctx.engine.response_format(Role.GENERATOR.value, GENERATOR_REPLY)
    bar = StepProgress(ctx.store, iteration, Stage.GENERATION, "generator", loop.new_per_iteration,
                       spent=ctx.spent, api=lambda: role_activity(ctx, "generator"))
    bar.advance(sum(tally.accepted.values()))
    try:
        await run.ask_and_decide(first_slot, bar)
    finally:
        bar.close()
    failed = report_failures(ctx, iteration, Stage.GENERATION, Role.GENERATOR.value)
    quota = {kind.value: n for kind, n in tally.quota.items()}
    got = {kind.value: tally.accepted[kind] for kind in tally.quota}
    if not tally.met:
        log(f"it{iteration} generation · attempt limit reached ({len(plan)} generator calls): "
            f"{got['hard']}/{quota['hard']} hard, {got['easy']}/{quota['easy']} easy accepted")
    next_pools(ctx, iteration, tally.new_ids)
    return {"accepted_hard": got["hard"], "accepted_easy": got["easy"], "quota": quota, "quota_met": tally.met,
            "rejected": dict(tally.rejected), "attempts": len(candidates(ctx.store, iteration)), "failed_items": failed}
