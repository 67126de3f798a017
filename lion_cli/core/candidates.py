"""Generator replies → candidate instructions, the filters a candidate must pass, and the seeded
choice of which hard / easy instruction seeds each generator call.

API used by lion_cli/pipeline/generation.py (one candidate per generator call, as the prompts ask):
    clean_generator_reply(reply) -> (instruction, input)      split_generator_reply(reply) -> [(instruction, input)]
    reject_reason(instruction, finish_reason, markers) -> reason | None
    sample_seeds(hard_ids, easy_ids, n, hard_ratio, rng_seed, iteration) -> [(kind, seed_id), ...]
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence

# Reasons a candidate is rejected, in the order they are checked (the first that applies is recorded);
# "too_similar" is the novelty filter's, decided by the caller against the pool.
REASONS = ("empty", "cut_off", "too_short", "non_ascii", "bad_start", "echo", "too_similar")

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


def reject_reason(instruction: str, finish_reason: str | None, markers: Iterable[str]) -> str | None:
    """Why a candidate is unusable, or None when it passes every filter but novelty."""
    text = instruction.strip()
    if not text:
        return "empty"
    if finish_reason == "length":
        return "cut_off"  # the generator stopped mid-sentence: the instruction may be incomplete
    if len(text.split()) <= 3:
        return "too_short"
    # DESIGN §2: dropped when it *starts* with punctuation or a non-ASCII character; non-ASCII further
    # in is legitimate ("Translate 'café' into English").
    first = text[0]
    if not first.isascii():
        return "non_ascii"
    if not first.isalnum():
        return "bad_start"
    lowered = text.lower()
    if any(m.lower() in lowered for m in markers if m):
        return "echo"
    return None


def sample_seeds(hard_ids: Sequence[int], easy_ids: Sequence[int], n: int, hard_ratio: float, rng_seed: int,
                 iteration: int) -> list[tuple[str, int]]:
    """n (kind, seed id) slots for the generator, in the order they are to be asked.

    Kinds are spread evenly at the configured ratio (slot i is hard when ⌊(i+1)·r⌋ > ⌊i·r⌋, so any
    prefix of the plan holds hard:easy as close to r as whole numbers allow, which matters when the
    quota is met early). Each side's seeds come from a seeded shuffle and every seed is used once before
    any is used again, so seeds are covered evenly. When one side is empty the other takes every slot.
    Deterministic in (ids, n, ratio, rng_seed, iteration): a resumed run asks exactly what the killed
    one would have asked."""
    sides = {"hard": sorted(hard_ids), "easy": sorted(easy_ids)}
    if not sides["hard"] and not sides["easy"]:
        return []
    rng = random.Random(f"lion-seeds:{rng_seed}:{iteration}")
    queues: dict[str, list[int]] = {"hard": [], "easy": []}
    out: list[tuple[str, int]] = []
    for i in range(n):
        kind = "hard" if math.floor((i + 1) * hard_ratio) > math.floor(i * hard_ratio) else "easy"
        if not sides[kind]:
            kind = "easy" if kind == "hard" else "hard"
        if not queues[kind]:  # the next pass over this side, in a fresh order
            queues[kind] = rng.sample(sides[kind], len(sides[kind]))[::-1]
        out.append((kind, queues[kind].pop()))
    return out
