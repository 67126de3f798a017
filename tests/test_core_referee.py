"""Referee reply parsing: the forms models really write give the right scores; anything ambiguous,
out of range or incomplete is a ParseFailure, never a wrong score."""

from __future__ import annotations

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
    ("Assistant 12: 8\nAssistant 2: 6", "only Assistant 2"),
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
    ("Assistant 1: 8,5\nAssistant 2: 6", "only Assistant 2"),  # a decimal comma: not "8"
    ("| Assistant | Accuracy | Overall |\n|---|---|---|\n| Assistant 1 | 8 | 9 |\n| Assistant 2 | 6 | 7 |",
     "no scores found"),  # several columns: which one is the score?
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
