"""Referee reply parsing: the forms models really write give the right scores; anything ambiguous,
out of range or incomplete is a ParseFailure, never a wrong score."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from lion_cli.core.referee import ParseFailure, Scores, parse_scores

JUSTIFICATION = ("Assistant 1 gives a correct, well organised answer with 3 concrete examples. "
                 "Assistant 2 misses 2 of the points the instruction asks for.")

# (reply, first score, second score)
READABLE: list[tuple[str, float, float]] = [
    # the format the prompt asks for, and its everyday variants
    (f"{JUSTIFICATION}\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1:8\nAssistant 2:6", 8, 6),
    ("Assistant 1 :  9 \nAssistant 2 :  4 ", 9, 4),
    ("ASSISTANT 1: 8\nassistant 2: 6", 8, 6),
    ("Assistant #1: 8\nAssistant #2: 6", 8, 6),
    ("Assistant 2: 6\nAssistant 1: 8", 8, 6),
    ("Assistant 1: 8.\nAssistant 2: 6.", 8, 6),
    ("Assistant 1: 8 points\nAssistant 2: 6 points", 8, 6),
    ("Assistant 1: 10\nAssistant 2: 1", 10, 1),
    ("Assistant 1: 8.0\nAssistant 2: 6.00", 8, 6),
    # decimals
    ("Assistant 1: 8.5\nAssistant 2: 7", 8.5, 7),
    ("Assistant 1: 7.5\nAssistant 2: 7.5", 7.5, 7.5),
    ("8.5 7", 8.5, 7),
    ("8.5\n7", 8.5, 7),
    # with a scale
    ("Score of Assistant 1: 8/10\nScore of Assistant 2: 7/10", 8, 7),
    ("Score of Assistant 2: 7/10\nScore of Assistant 1: 9/10", 9, 7),
    ("Assistant 1: 8/10\nAssistant 2: 6", 8, 6),
    ("Assistant 1: 8 / 10\nAssistant 2: 6 / 10", 8, 6),
    ("Assistant 1: 8 out of 10\nAssistant 2: 6 out of 10", 8, 6),
    ("8/10 and 6/10", 8, 6),
    # labels worded differently
    ("Assistant 1's score: 8\nAssistant 2's score: 6", 8, 6),
    ("Assistant 1 score is 8\nAssistant 2 score is 6", 8, 6),
    ("Rating for Assistant 1: 8\nRating for Assistant 2: 6", 8, 6),
    ("Assistant 1 (score: 8)\nAssistant 2 (score: 6)", 8, 6),
    ("Assistant 1 - 8\nAssistant 2 - 6", 8, 6),
    ("Assistant 1 = 8; Assistant 2 = 6", 8, 6),
    ("Assistant 1 receives a score of 8, while Assistant 2 receives a score of 6.", 8, 6),
    ("Assistant 1 scores 8 and Assistant 2 scores 6.", 8, 6),
    ("Assistant 1 gets 9/10 and Assistant 2 gets 4/10.", 9, 4),
    ("Final scores - Assistant 1: 9, Assistant 2: 4", 9, 4),
    ("I would give Assistant 1 a 9.\nI would give Assistant 2 a 4.", 9, 4),
    # markdown
    ("**Assistant 1:** 8\n**Assistant 2:** 6", 8, 6),
    ("**Assistant 1: 8**\n**Assistant 2: 6**", 8, 6),
    ("- Assistant 1: 8\n- Assistant 2: 6", 8, 6),
    ("### Scores\n* Assistant 1: `8`\n* Assistant 2: `6`", 8, 6),
    ("| Assistant | Score |\n|---|---|\n| Assistant 1 | 8 |\n| Assistant 2 | 6 |", 8, 6),
    ("Assistant 1:\n8\nAssistant 2:\n6", 8, 6),
    # both scores on one line
    ("Assistant 1: 8, Assistant 2: 6", 8, 6),
    ("Assistant 1: 8 Assistant 2: 6", 8, 6),
    ("8 6", 8, 6),
    ("8, 6", 8, 6),
    (f"7 9\n{JUSTIFICATION}", 7, 9),
    (f"{JUSTIFICATION}\nScores: 8, 6", 8, 6),
    ("Final scores: 8 and 6", 8, 6),
    # JSON
    ('{"assistant_1": 8, "assistant_2": 6}', 8, 6),
    ('```json\n{"assistant_1": 8, "assistant_2": 6}\n```', 8, 6),
    ('Here is my verdict: {"Assistant 1": "8/10", "Assistant 2": "6/10"}', 8, 6),
    ('{"assistant_1": {"score": 8, "reason": "good"}, "assistant_2": {"score": 6, "reason": "weak"}}', 8, 6),
    ('{"score_1": 7.5, "score_2": 3}', 7.5, 3),
    ('{"scores": [8, 6]}', 8, 6),
    # trailing text and numbers in the justification
    ("Assistant 1: 8\nAssistant 2: 6\nOverall, the first answer is better.", 8, 6),
    ("Assistant 1: 9 (excellent)\nAssistant 2: 4 (weak)", 9, 4),
    ("Assistant 1: 9 - very good\nAssistant 2: 4 - poor", 9, 4),
    ("Assistant 1: 8\n\nAssistant 2: 6\n\nNote: Assistant 1 covers 10 points.", 8, 6),
    ("Assistant 1 answered in 2 steps. Assistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1: 3 reasons make it good.\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1 gets 3-point credit.\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1 (7 sentences) is long.\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1: 8, Assistant 2: 6, and again Assistant 1: 8", 8, 6),  # a repeat that agrees
    ("8 6\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
]

# (reply, a phrase the reason contains)
UNREADABLE: list[tuple[str, str]] = [
    ("", "empty reply"),
    ("   \n ", "empty reply"),
    ("The first answer is better.", "no scores found"),
    ("Assistant 1: eight\nAssistant 2: six", "no scores found"),
    ("Assistant 1 has 3 errors. Assistant 2 has 2 errors.", "no scores found"),
    ("Assistant 1: 8", "only Assistant 1"),
    ("Assistant 12: 8\nAssistant 2: 6", "names Assistant 12"),
    ("Assistant 1: N/A\nAssistant 2: 6", "only Assistant 2"),
    ("Assistant 1: 1.5e1\nAssistant 2: 6", "only Assistant 2"),
    ("Both get 7", "no scores found"),
    # more than one value offered
    ("Assistant 1: 8 or 9\nAssistant 2: 6", "more than one score"),
    ("Assistant 1: 8-9\nAssistant 2: 6", "more than one score"),
    ("Assistant 1: 8 → 9\nAssistant 2: 6", "more than one score"),
    ("Assistant 1: 7 (or 8)\nAssistant 2: 6", "more than one score"),
    ("Assistant 1: 7 points, maybe 8\nAssistant 2: 6", "more than one score"),
    ("Assistant 1: 8\nAssistant 2: 6 (but could be 7)", "more than one score"),
    ("Assistant 1: 8,5\nAssistant 2: 6", "more than one score"),  # a decimal comma: not "8"
    ("| Assistant | Accuracy | Overall |\n|---|---|---|\n| Assistant 1 | 8 | 9 |\n| Assistant 2 | 6 | 7 |",
     "more than one score"),  # several columns: which one is the score?
    # disagreeing statements
    ("Assistant 1: 8\nAssistant 2: 6\nAssistant 1: 7", "conflicting scores for Assistant 1"),
    ("Assistant 1: 8\nAssistant 2: 6\nScores: 6 8", "conflicting scores"),
    ('{"assistant_1": 8, "assistant_2": 6}\nAssistant 1: 9\nAssistant 2: 6', "conflicting scores for Assistant 1"),
    ("8 6\nAssistant 1: 7\nAssistant 2: 6", "conflicting scores for Assistant 1"),
    # off the scale
    ("Assistant 1: 11\nAssistant 2: 6", "outside 1–10"),
    ("Assistant 1: 0\nAssistant 2: 6", "outside 1–10"),
    ("Assistant 1: 8\nAssistant 2: -6", "negative score"),
    ("Assistant 1: 8/100\nAssistant 2: 6/100", "not on the 1–10 scale"),
    ("Assistant 1: 4/5\nAssistant 2: 3/5", "not on the 1–10 scale"),
    ('{"assistant_1": 80, "assistant_2": 60}', "outside 1–10"),
]


@pytest.mark.parametrize(("reply", "first", "second"), READABLE)
def test_readable_reply(reply: str, first: float, second: float) -> None:
    assert parse_scores(reply) == Scores(first, second)


@pytest.mark.parametrize(("reply", "reason"), UNREADABLE)
def test_ambiguous_or_unreadable_reply(reply: str, reason: str) -> None:
    result = parse_scores(reply)
    assert isinstance(result, ParseFailure), result
    assert reason in result.reason


def test_enough_forms() -> None:
    assert len(READABLE) >= 40 and len(UNREADABLE) >= 20


def test_numbered_list_markers_are_not_scores() -> None:
    # "1." and "2." on their own lines are list markers, not the scores 1 and 2
    reply = "1.\nThe first answer is accurate.\n2.\nThe second is vague."
    assert isinstance(parse_scores(reply), ParseFailure)


def test_never_a_wrong_score_under_noise() -> None:
    """Every readable form stays right (or becomes a failure) with a justification around it; it never
    turns into other numbers."""
    for reply, first, second in READABLE:
        for wrapped in (f"{JUSTIFICATION}\n\n{reply}", f"{reply}\n\nThat is my verdict."):
            result = parse_scores(wrapped)
            assert result == Scores(first, second) or isinstance(result, ParseFailure), (wrapped, result)


# -- one class of ambiguity per test: each reply below can only be read by guessing ---------------------

def _refused(reply: str) -> None:
    result = parse_scores(reply)
    assert isinstance(result, ParseFailure), (reply, result)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 7 8\nAssistant 2: 6",
    "Assistant 1: 7, 8\nAssistant 2: 6",
    "Assistant 1: 8 vs 6\nAssistant 2: 6",
    "Assistant 1: 8 for accuracy and 6 for clarity\nAssistant 2: 5",
    "Assistant 1: 8, 9 if you count style\nAssistant 2: 6",
    "Assistant 1: 8 (7 if strict)\nAssistant 2: 6",
    "Assistant 1: 8 because it lists 3 steps\nAssistant 2: 6",
    "Assistant 1 vs Assistant 2: 8 vs 6",
    "Scores for Assistant 2 and Assistant 1: 8, 6\nAssistant 2: 8",
])
def test_two_numbers_in_one_score_statement(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 7 to 8\nAssistant 2: 6",
    "Assistant 1: 7–8\nAssistant 2: 6",
    "Assistant 1: 7/10 or 8/10\nAssistant 2: 6/10",
    "Assistant 1: between 7 and 8\nAssistant 2: 6",
    "Assistant 1: ~8\nAssistant 2: 6",
    "Assistant 1: 8+\nAssistant 2: 6",
    "Assistant 1: 8?\nAssistant 2: 6",
    "Assistant 1: 8,5\nAssistant 2: 6\nScores: 8 6",  # a decimal comma is not the score 8
    "8 or 6",
    "Scores: 8, 6, 7",
])
def test_ranges_hedges_and_unreadable_score_lines(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 8\nAssistant 2: 6\nAssistant 3: 7",
    "Assistant 3: 9\nAssistant 1: 8\nAssistant 2: 6",
    "Assistant 10: 5\nAssistant 1: 8\nAssistant 2: 6",
    '{"assistant_1": 8, "assistant_2": 6, "assistant_3": 7}',
    '{"scores": [8, 6, 7]}',
    "Assistant 1 and Assistant 2: 7",
    "Assistant 1 vs Assistant 2: 8\nAssistant 1: 6",
    "Answer 1: 3\nAnswer 2: 9\nAssistant 1: 9\nAssistant 2: 3",  # under two names, two readings
    "Assistant A: 8\nAssistant B: 6\nAssistant 1: 6\nAssistant 2: 8",
])
def test_scores_for_more_than_two_assistants_or_other_names(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 7 ... actually Assistant 1: 8\nAssistant 2: 6",
    "Assistant 1: 7\nAssistant 2: 6\nOn second thought, I'd raise the first to 8.",
    "Assistant 1: 7\nAssistant 2: 6\nActually, the first answer deserves more.",
    "Assistant 1: 7\nAssistant 2: 6\nLet me revise that: the first answer is clearly better.",
    "Assistant 1: 7\nAssistant 2: 6\nCorrection: Assistant 2 should be a 5.",
    "Assistant 1: 8\n7\nAssistant 2: 6",  # a lone number after a score: a correction?
    "Assistant 1: ~~7~~ 8\nAssistant 2: 6\n7 6",
    "Assistant 1: 8\nAssistant 2: 6\nUpdate: 7 and 6.",
    "Assistant 1: 8\nAssistant 2: 6\nFinal answer: 7 6",
    "Assistant 1: 8\nAssistant 2: 6\nP.S. Assistant 1 is a 7 really.",
    "Assistant 1: 8\nAssistant 2: 6\nHowever, I'd lower Assistant 1 to 7.",
])
def test_a_reply_that_revises_its_scores(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 3/4\nAssistant 2: 1/4",
    "Assistant 1: 8 (out of 5)\nAssistant 2: 3 (out of 5)",
    "Assistant 1: 80%\nAssistant 2: 60%",
    "Assistant 1: 8%\nAssistant 2: 6%",
    "Assistant 1: 10.5\nAssistant 2: 6",
    "Assistant 1: 0.5\nAssistant 2: 6",
    "Assistant 1: −6\nAssistant 2: 8",
    "-8, 6",
    "On a scale of 1 to 5:\nAssistant 1: 4\nAssistant 2: 3",
    '{"assistant_1": NaN, "assistant_2": 6}',
])
def test_fractions_other_scales_negatives_and_percentages(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: seven\nAssistant 2: 6\n8 6",
    "Assistant 1: ٨\nAssistant 2: ٦",  # digits of another script: refused rather than guessed
    "Asistente 1: 8\nAsistente 2: 6",
    "助手1：8分\n助手2：6分",
])
def test_words_other_scripts_and_languages(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 1. Correct and complete.\nAssistant 2: 2. Missing details.",
    "Assistant 1: 1) Correct and complete.\nAssistant 2: 2) Missing details.",
    "Assistant 1:\n8\n9\nAssistant 2:\n6",
    "Assistant 1:\n8\n6",
    f"{JUSTIFICATION}\n8\n6\n7",
])
def test_numbered_lists_and_stray_numbers(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "In the order Assistant 2, Assistant 1:\n8 6",
    "Assistant 2 and Assistant 1 respectively:\n8\n6",
    "Scores in reverse order:\n8 6",
])
def test_bare_pairs_whose_order_the_reply_changes(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    '{"assistant_1": 8, "assistant_1": 9, "assistant_2": 6}',
    '{"assistant_1": {"score": 8, "rating": 9}, "assistant_2": 6}',
    '{"assistant_1": "7 or 8", "assistant_2": 6}\nAssistant 1: 7\nAssistant 2: 6',
    '{"assistant_1": [7, 8], "assistant_2": 6}',
    '{"assistant_1": 8, "assistant_2": 6}\n{"assistant_1": 7, "assistant_2": 6}',
])
def test_json_that_offers_more_than_one_value(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize(("reply", "first", "second"), [
    ("Assistant 1 gets 3 points for accuracy.\nAssistant 2 gets 2 points for accuracy.\nAssistant 1: 8\nAssistant 2: 6",
     8, 6),
    ("Accuracy: Assistant 1: 9, Assistant 2: 5\nClarity: Assistant 1: 6, Assistant 2: 7\n"
     "Assistant 1: 7\nAssistant 2: 6", 7, 6),
    ("Let me count: Assistant 1 makes 4 claims, 3 of them right; Assistant 2 makes 2.\nAssistant 1: 7\nAssistant 2: 5",
     7, 5),
])
def test_chain_of_thought_numbers_before_the_final_scores(reply: str, first: float, second: float) -> None:
    """Counts and per-criterion scores in the reasoning are not the scores; the final lines are."""
    assert parse_scores(reply) == Scores(first, second)


@pytest.mark.parametrize("reply", [
    "At first I'd give Assistant 1 a 7.\nAssistant 1: 8\nAssistant 2: 6",  # which one is meant?
    "Assistant 1 gets 3 points for accuracy.\nAssistant 2 gets 2 points for accuracy.",  # no overall score
    "Accuracy: Assistant 1: 9, Assistant 2: 5\nClarity: Assistant 1: 6, Assistant 2: 7",
])
def test_chain_of_thought_scores_that_are_not_the_final_ones(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize("reply", [
    "Assistant 1: 8\nAssistant 2: 6\nWinner: Assistant 2",
    "Assistant 1: 6\nAssistant 2: 6\nBetter answer: Assistant 1",
    '{"assistant_1": 8, "assistant_2": 6, "winner": "assistant_2"}',
    "Assistant 1: 8\nAssistant 2: 6\n\n**Final verdict:** Assistant 2",
    "Assistant 1: 8\nAssistant 2: 6\nVerdict: tie",
])
def test_scores_that_contradict_the_stated_winner(reply: str) -> None:
    _refused(reply)


@pytest.mark.parametrize(("reply", "first", "second"), [
    # read by name, whatever the order of the statements
    ("Assistant 2: 8, Assistant 1: 7", 7, 8),
    ("Score of Assistant 2: 9\nScore of Assistant 1: 4", 4, 9),
    ("Assistant 2 receives a score of 3, while Assistant 1 receives a score of 9.", 9, 3),
    # text after the score that is not another value
    ("Assistant 1: 8 (out of 10)\nAssistant 2: 6 (out of 10)", 8, 6),
    ("Assistant 1: 7 points out of 10\nAssistant 2: 6 points out of 10", 7, 6),
    ("On a scale of 1 to 10:\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1 (1-10): 8\nAssistant 2 (1-10): 6", 8, 6),
    ("Assistant 1: 8. Assistant 2: 6.", 8, 6),
    # markdown around labels and numbers
    ("*Assistant 1*: 8\n*Assistant 2*: 6", 8, 6),
    ("## Assistant 1: 8/10\n## Assistant 2: 6/10", 8, 6),
    ("1. Assistant 1: 8\n2. Assistant 2: 6", 8, 6),
    # numbers in a justification, then the score lines; a winner that agrees
    ("Assistant 1 lists 3 steps; Assistant 2 lists 2 steps.\nAssistant 1: 8\nAssistant 2: 6", 8, 6),
    ("Assistant 1: 8\nAssistant 2: 6\nWinner: Assistant 1", 8, 6),
    ('{"scores": {"assistant_1": 8, "assistant_2": 6}}', 8, 6),
    ('{"evaluation": {"assistant_1": {"score": 7.5}, "assistant_2": {"score": 3}}}', 7.5, 3),
    ("Scores for Assistant 1 and Assistant 2, respectively:\n8 6", 8, 6),
])
def test_unambiguous_forms_around_the_ambiguous_ones(reply: str, first: float, second: float) -> None:
    assert parse_scores(reply) == Scores(first, second)


_LABEL = re.compile(r"(assistant[\s_#]*|score_)([12])", re.I)


def test_swapping_the_labels_swaps_the_scores_or_refuses() -> None:
    """A labelled reply is read by name: renaming Assistant 1 to 2 and back must swap the result,
    never leave it as it was (which would mean the position, not the name, was read)."""
    swapped_any = 0
    for reply, first, second in READABLE:
        renamed = _LABEL.sub(lambda m: m.group(1) + ("2" if m.group(2) == "1" else "1"), reply)
        unnamed = parse_scores(_LABEL.sub("Helper", reply))
        if renamed == reply or unnamed == Scores(first, second):
            continue  # the scores do not come from the names (a bare pair: its order is the convention)
        swapped_any += 1
        result = parse_scores(renamed)
        assert result == Scores(second, first) or isinstance(result, ParseFailure), (renamed, result)
    assert swapped_any > 40


_SCORE_LINES = [
    "Assistant 1: {a}\nAssistant 2: {b}", "Assistant 2: {b}\nAssistant 1: {a}",
    "Assistant 1: {a}/10\nAssistant 2: {b}/10", "**Assistant 1:** {a}\n**Assistant 2:** {b}",
    "Assistant 1 receives a score of {a}; Assistant 2 receives a score of {b}.",
    "Score of Assistant 2: {b}\nScore of Assistant 1: {a}", '{{"assistant_1": {a}, "assistant_2": {b}}}',
    "Assistant 1: {a} out of 10\nAssistant 2: {b} out of 10", "- Assistant 1: {a}.\n- Assistant 2: {b}.",
]
_REASONS = ["Assistant 1 lists 3 steps and Assistant 2 lists 2 steps.", "Both answers are on topic.",
            "Assistant 2 misses 1 of the 4 requirements.", "Accuracy: Assistant 1: 9, Assistant 2: 4.",
            "Assistant 1 (2 paragraphs) is concise.", "The first answer is better organised."]
# Ways to make a reply ambiguous: each takes the reply and the two scores, and gives None where it
# does not apply to that reply.
def _sub(reply: str, old: str, new: str) -> str | None:
    return reply.replace(old, new, 1) if old in reply else None


_AMBIGUATE: list[Callable[[str, int, int], str | None]] = [
    lambda r, a, b: r + f"\nAssistant 1: {a % 10 + 1}",
    lambda r, a, b: _sub(r, f"Assistant 1: {a}", f"Assistant 1: {a} or {a % 10 + 1}"),
    lambda r, a, b: _sub(r, f"Assistant 2: {b}", f"Assistant 2: {b}-{b % 10 + 1}"),
    lambda r, a, b: r + f"\nActually, Assistant 2 deserves a {b % 10 + 1}.",
    lambda r, a, b: r + f"\nAssistant 3: {a}",
    lambda r, a, b: r + f"\n{b} {a}" if a != b else None,
    lambda r, a, b: _sub(r, f"Assistant 1: {a}", f"Assistant 1: -{a}"),
    lambda r, a, b: _sub(r, '"assistant_1": ', '"assistant_1": 9, "assistant_1": '),
    lambda r, a, b: r + f"\nWinner: Assistant {2 if a > b else 1}",
]


def test_generated_replies_never_get_a_wrong_score() -> None:
    """Thousands of generated replies with known scores: each is read right or refused, and at least
    nine in ten are read; made ambiguous (a second value, a range, a revision, a third assistant, a
    reversed bare pair, a negative, a repeated JSON key, a contradicting winner), every one is refused."""
    rng = random.Random(7)
    read = ambiguous_count = 0
    for _ in range(3000):
        a, b = rng.randint(1, 10), rng.randint(1, 10)
        lines = _SCORE_LINES[rng.randrange(len(_SCORE_LINES))].format(a=a, b=b)
        reasons = " ".join(rng.sample(_REASONS, rng.randint(0, 3)))
        layout = "{reasons}\n\n{lines}" if rng.random() < 0.8 else "{lines}\n\n{reasons}"
        reply = layout.format(reasons=reasons, lines=lines)
        result = parse_scores(reply)
        read += result == Scores(a, b)
        assert result == Scores(a, b) or isinstance(result, ParseFailure), (reply, result)
        changed = _AMBIGUATE[rng.randrange(len(_AMBIGUATE))](lines, a, b)  # the score lines, not the reasons
        if changed is not None and (a != b or "Winner" not in changed):
            ambiguous_count += 1
            ambiguous = layout.format(reasons=reasons, lines=changed)
            assert isinstance(parse_scores(ambiguous), ParseFailure), ambiguous
    assert read / 3000 > 0.9 and ambiguous_count > 1500, (read, ambiguous_count)


def test_arbitrary_text_never_raises() -> None:
    rng = random.Random(11)
    alphabet = "Assistant 12:/.-,()[]{}\"*#|\n0123456789 or and score out of 10 actually ~%+?"
    for _ in range(3000):
        reply = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        result = parse_scores(reply)
        assert isinstance(result, ParseFailure) or (1 <= result.first <= 10 and 1 <= result.second <= 10)
