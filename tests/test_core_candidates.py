"""Generator replies → candidates, the candidate filters with their recorded reasons, and the seeded
seed plan (ratio, coverage, determinism, one side empty)."""

from __future__ import annotations

from collections import Counter

import pytest

from lion_cli.core.candidates import REASONS, clean_generator_reply, reject_reason, sample_seeds, split_generator_reply
from lion_cli.core.prompts import GENERATOR_MARKERS


@pytest.mark.parametrize(("reply", "instruction", "input_text"), [
    ("Write a haiku about autumn leaves.", "Write a haiku about autumn leaves.", ""),
    ("  Write a haiku about autumn leaves.  \n\n", "Write a haiku about autumn leaves.", ""),
    ('New instruction: "Write a haiku about rain."', "Write a haiku about rain.", ""),
    ("Instruction: Name three rivers in Africa.", "Name three rivers in Africa.", ""),
    ("**Instruction:** Sort the list in ascending order.\n**Input:** 3, 1, 2",
     "Sort the list in ascending order.", "3, 1, 2"),
    ("Summarize the text below in one sentence.\nInput: The cat sat on the mat all day.",
     "Summarize the text below in one sentence.", "The cat sat on the mat all day."),
    ("Summarize the passage.\nInput:\nLine one.\nLine two.", "Summarize the passage.", "Line one.\nLine two."),
    ("Here is a new instruction:\nExplain how tides work.", "Explain how tides work.", ""),
    ('Sure! Here is one:\n\n"Describe a sunset in five words."', "Describe a sunset in five words.", ""),
    ("- Explain photosynthesis to a child.", "Explain photosynthesis to a child.", ""),
    ("1. Write a poem about cats.\n2. Write a poem about dogs.", "Write a poem about cats.", ""),
    ("“Plan a three-day trip to Rome.”", "Plan a three-day trip to Rome.", ""),
    ('**"Write a limerick about a goat."**', "Write a limerick about a goat.", ""),
    ("Windows line\r\nInput: endings", "Windows line", "endings"),
    # a list inside a single instruction stays part of it
    ("Put these steps in order:\n1. boil water\n2. add pasta", "Put these steps in order:\n1. boil water\n2. add pasta",
     ""),
    ("", "", ""),
    ("Here is a new instruction:", "", ""),
])
def test_clean_generator_reply(reply: str, instruction: str, input_text: str) -> None:
    assert clean_generator_reply(reply) == (instruction, input_text)


def test_split_a_list_reply_into_items() -> None:
    reply = "1. Summarize this.\n   Input: abc\n2) Translate this into French.\nInput: def\n3. Count the vowels."
    assert split_generator_reply(reply) == [("Summarize this.", "abc"), ("Translate this into French.", "def"),
                                            ("Count the vowels.", "")]
    assert split_generator_reply("* First task here.\n* Second task here.") == [
        ("First task here.", ""), ("Second task here.", "")]
    assert split_generator_reply("   ") == []


@pytest.mark.parametrize(("text", "finish", "reason"), [
    ("Write a short story about a lighthouse keeper.", "stop", None),
    ("Translate 'café au lait' into English.", "stop", None),  # non-ASCII inside is fine
    ("Write a short story about a lighthouse keeper.", None, None),
    ("", "stop", "empty"),
    ("   ", "stop", "empty"),
    ("Write a short story about a lighthouse keeper who", "length", "cut_off"),
    ("Name it.", "length", "cut_off"),  # cut off is checked before length in words
    ("Name three rivers", "stop", "too_short"),
    ("Summarize.", "stop", "too_short"),
    ("Name four big rivers", "stop", None),  # 4 words pass
    ("...and then write a story about it.", "stop", "bad_start"),
    ("(Optional) Write a story about a dog.", "stop", "bad_start"),
    ("#1 Write a story about a brave dog.", "stop", "bad_start"),
    ("Écris une histoire sur un chien.", "stop", "non_ascii"),
    ("¿Cómo se dice hello en inglés?", "stop", "non_ascii"),
    ("写一首关于秋天的诗 please write it", "stop", "non_ascii"),
    ("Rewrite the [Seed instruction] in simpler words.", "stop", "echo"),
    ("Write one new instruction in the same domain as this.", "stop", "echo"),
    ("Here is an instruction that a user once gave to an AI assistant", "stop", "echo"),
    ("Make the SEED INSTRUCTION shorter and clearer.", "stop", "echo"),
])
def test_reject_reason(text: str, finish: str | None, reason: str | None) -> None:
    assert reject_reason(text, finish, GENERATOR_MARKERS) == reason
    assert reason is None or reason in REASONS


def test_markers_are_a_parameter() -> None:
    assert reject_reason("Describe the secret word banana in detail.", "stop", ()) is None
    assert reject_reason("Describe the secret word banana in detail.", "stop", ["BANANA"]) == "echo"
    assert reject_reason("Describe the secret word banana in detail.", "stop", [""]) is None


def test_seed_plan_ratio_and_coverage() -> None:
    hard, easy = list(range(100, 110)), list(range(200, 230))
    plan = sample_seeds(hard, easy, 60, 0.5, rng_seed=7, iteration=0)
    kinds = [k for k, _ in plan]
    assert Counter(kinds) == {"hard": 30, "easy": 30}
    for n in range(1, 61):  # every prefix holds the ratio as closely as whole numbers allow
        assert abs(kinds[:n].count("hard") - n * 0.5) <= 1
    assert all((sid in hard) == (kind == "hard") for kind, sid in plan)
    # each hard seed once per pass over the side: 30 hard slots over 10 seeds = each exactly 3 times
    assert Counter(sid for k, sid in plan if k == "hard") == dict.fromkeys(hard, 3)
    easy_used = [sid for k, sid in plan if k == "easy"]
    assert sorted(easy_used) == easy  # 30 easy slots over 30 seeds: each once

    quarter = [k for k, _ in sample_seeds(hard, easy, 40, 0.25, 7, 0)]
    assert quarter.count("hard") == 10
    assert [k for k, _ in sample_seeds(hard, easy, 5, 1.0, 7, 0)] == ["hard"] * 5
    assert [k for k, _ in sample_seeds(hard, easy, 5, 0.0, 7, 0)] == ["easy"] * 5


def test_seed_plan_is_deterministic_and_seeded() -> None:
    hard, easy = [5, 3, 9, 1], [8, 2, 7]
    a = sample_seeds(hard, easy, 20, 0.5, rng_seed=1, iteration=2)
    assert a == sample_seeds(hard, easy, 20, 0.5, rng_seed=1, iteration=2)
    assert a == sample_seeds(hard[::-1], easy[::-1], 20, 0.5, rng_seed=1, iteration=2)  # id order does not matter
    assert a[:7] == sample_seeds(hard, easy, 7, 0.5, rng_seed=1, iteration=2)  # a longer plan extends a shorter one
    assert a != sample_seeds(hard, easy, 20, 0.5, rng_seed=2, iteration=2)
    assert a != sample_seeds(hard, easy, 20, 0.5, rng_seed=1, iteration=3)


def test_seed_plan_with_one_side_empty() -> None:
    only_hard = sample_seeds([4, 5], [], 6, 0.5, 0, 0)
    assert [k for k, _ in only_hard] == ["hard"] * 6 and Counter(s for _, s in only_hard) == {4: 3, 5: 3}
    only_easy = sample_seeds([], [9], 3, 0.5, 0, 0)
    assert only_easy == [("easy", 9)] * 3
    assert sample_seeds([], [], 5, 0.5, 0, 0) == []
    assert sample_seeds([1], [2], 0, 0.5, 0, 0) == []
