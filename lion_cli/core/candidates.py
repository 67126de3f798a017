"""Generator replies → candidate instructions, the filters a candidate must pass, and the seeded
choice of which hard / easy instruction seeds each generator call.

API used by lion_cli/pipeline/generation.py (one candidate per generator call, as the prompts ask):
    clean_generator_reply(reply) -> (instruction, input)      split_generator_reply(reply) -> [(instruction, input)]
    reject_reason(instruction, finish_reason, markers, rejected_words) -> reason | None
    decide_candidate(instruction, finish_reason, tokens, index, threshold) -> CandidateDecision
    generation_quota(total, hard_ratio, have_hard, have_easy) -> {Label: count}
    sample_seeds(hard_ids, easy_ids, n, hard_ratio, rng_seed, iteration) -> [(Label, seed_id), ...]
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lion_cli.core.novelty import NoveltyIndex
from lion_cli.core.prompts import GENERATOR_MARKERS
from lion_cli.core.types import Label

# Reasons a candidate is rejected, in the order they are checked (the first that applies is recorded);
# "too_similar" is the novelty filter's, checked against the pool last (it is the costly one).
# "rejected_word": a word the protocol refuses (the paper's "instruction", core/loop_protocol.py).
REASONS = ("empty", "cut_off", "too_short", "non_ascii", "bad_start", "echo", "rejected_word", "too_similar")

_NUMBERING = re.compile(r"^\s*(?:\d+[.):]|[-*•]|#+)\s+")
_ITEM = re.compile(r"^\s*(?:\d+[.):]|[-*•])\s+\S")  # a top-level list item of a multi-item reply
_LABEL = re.compile(r"^\s*\**\s*(?:new\s+)?(?:instruction|task|prompt|question)\s*\d*\s*\**\s*:\s*\**\s*",
                    re.IGNORECASE)
_INPUT = re.compile(r"^\s*\**\s*input\s*\**\s*:\s*\**\s*", re.IGNORECASE)
# "Sure! Here is a new instruction:" — chatter before the instruction, dropped when on its own line.
_PREAMBLE = re.compile(r"^\s*(?:sure|okay|ok|certainly|of course|here\s+is|here's|here\s+are)\b[^\n]*:\s*$",
                       re.IGNORECASE)
_QUOTES = "\"'“”‘’`"


def _strip_line(line: str) -> str:
    line = _NUMBERING.sub("", line, count=1)
    line = _LABEL.sub("", line, count=1)
    return line.strip()


def split_generator_reply(reply: str) -> list[tuple[str, str]]:
    """Every (instruction, input) in a reply. The prompts ask for one instruction, but models sometimes
    write a numbered or bulleted list of several: each item is one candidate. A reply whose first
    line is not a list item is a single instruction (a list below it is part of that instruction)."""
    lines = [ln for ln in reply.replace("\r\n", "\n").strip().split("\n")]
    while lines and (_PREAMBLE.match(lines[0]) or not lines[0].strip()):
        lines = lines[1:]
    if not lines:
        return []
    if _ITEM.match(lines[0]) and sum(bool(_ITEM.match(ln)) for ln in lines) > 1:
        items: list[list[str]] = []
        for line in lines:
            if _ITEM.match(line):
                items.append([line])
            elif line.strip():
                items[-1].append(line)
        return [_one_candidate(item) for item in items]
    return [_one_candidate(lines)]


def clean_generator_reply(reply: str) -> tuple[str, str]:
    """The instruction and its optional input from one generator reply (its first item when the
    model wrote a list). Models wrap the instruction in a label ("New instruction:"), numbering,
    bold or quotes; the input follows a line starting "Input:"."""
    found = split_generator_reply(reply)
    return found[0] if found else ("", "")


def _one_candidate(lines: list[str]) -> tuple[str, str]:
    head: list[str] = []
    tail: list[str] = []
    in_input = False
    for raw in lines:
        if not in_input and _INPUT.match(raw):
            in_input = True
            rest = _INPUT.sub("", raw, count=1).strip()
            if rest:
                tail.append(rest)
            continue
        (tail if in_input else head).append(raw)
    instruction = "\n".join(head).strip()
    if instruction:
        first, *others = instruction.split("\n")
        instruction = "\n".join([_strip_line(first), *others]).strip()
    instruction = instruction.replace("**", "").strip().strip(_QUOTES).strip()
    return instruction, "\n".join(tail).strip()


def reject_reason(instruction: str, finish_reason: str | None, markers: Iterable[str],
                  rejected_words: Iterable[str] = ()) -> str | None:
    """Why a candidate is unusable, or None when it passes every filter but novelty. `rejected_words`:
    a candidate containing one (any case, also inside a longer word: "instructions") is rejected."""
    text = instruction.strip()
    if not text:
        return "empty"
    if finish_reason == "length":
        return "cut_off"  # the generator stopped mid-sentence: the instruction may be incomplete
    if len(text.split()) <= 3:
        return "too_short"
    # Dropped only when it *starts* with punctuation or a non-ASCII character; non-ASCII further
    # in is legitimate ("Translate 'café' into English").
    first = text[0]
    if not first.isascii():
        return "non_ascii"
    if not first.isalnum():
        return "bad_start"
    lowered = text.lower()
    if any(m.lower() in lowered for m in markers if m):
        return "echo"
    if any(w.lower() in lowered for w in rejected_words if w):
        return "rejected_word"
    return None


@dataclass(frozen=True, slots=True)
class CandidateDecision:
    reason: str | None  # why it is rejected; None when accepted
    max_rouge: float | None  # against the pool, for candidates that passed every other filter
    nearest: int | None  # the pool index of the most similar item (None when none shares a token)


def decide_candidate(instruction: str, finish_reason: str | None, tokens: Sequence[str], index: NoveltyIndex,
                     threshold: float, markers: Iterable[str] = GENERATOR_MARKERS,
                     rejected_words: Iterable[str] = ()) -> CandidateDecision:
    """Every filter in REASONS' order: the text filters, then novelty (rejected "too_similar" when its
    ROUGE-L F against some pool item is above `threshold`)."""
    reason = reject_reason(instruction, finish_reason, markers, rejected_words)
    if reason is not None:
        return CandidateDecision(reason, None, None)
    score, pos = index.max_rouge(tokens)
    return CandidateDecision("too_similar" if score > threshold else None, score, pos)


def generation_quota(total: int, hard_ratio: float, have_hard: bool, have_easy: bool) -> dict[Label, int]:
    """How many hard- and easy-seeded candidates one generation stage accepts: `hard_ratio` of `total`
    from hard seeds, the rest from easy ones, or all of them from the only side that has seeds."""
    if not have_hard:
        return {Label.HARD: 0, Label.EASY: total}
    if not have_easy:
        return {Label.HARD: total, Label.EASY: 0}
    hard = round(total * hard_ratio)
    return {Label.HARD: hard, Label.EASY: total - hard}


def sample_seeds(hard_ids: Sequence[int], easy_ids: Sequence[int], n: int, hard_ratio: float, rng_seed: int,
                 iteration: int) -> list[tuple[Label, int]]:
    """n (kind, seed id) slots for the generator, in the order they are to be asked.

    Kinds are spread evenly at the configured ratio (slot i is hard when ⌊(i+1)·r⌋ > ⌊i·r⌋, so any
    prefix of the plan holds hard:easy as close to r as whole numbers allow, which matters when the
    quota is met early). Each side's seeds come from a seeded shuffle and every seed is used once before
    any is used again, so seeds are covered evenly. When one side is empty the other takes every slot.
    Deterministic in (ids, n, ratio, rng_seed, iteration): a resumed run asks exactly what the killed
    one would have asked."""
    sides = {Label.HARD: sorted(hard_ids), Label.EASY: sorted(easy_ids)}
    if not sides[Label.HARD] and not sides[Label.EASY]:
        return []
    rng = random.Random(f"lion-seeds:{rng_seed}:{iteration}")
    queues: dict[Label, list[int]] = {Label.HARD: [], Label.EASY: []}
    out: list[tuple[Label, int]] = []
    for i in range(n):
        kind = Label.HARD if math.floor((i + 1) * hard_ratio) > math.floor(i * hard_ratio) else Label.EASY
        if not sides[kind]:
            kind = Label.EASY if kind is Label.HARD else Label.HARD
        if not queues[kind]:  # the next pass over this side, in a fresh order
            queues[kind] = rng.sample(sides[kind], len(sides[kind]))[::-1]
        out.append((kind, queues[kind].pop()))
    return out
