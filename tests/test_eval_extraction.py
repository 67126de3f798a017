"""Answer extraction: the first standalone capital letter that names an offered option."""

from __future__ import annotations

import pytest

from lion_cli.core.bench_answers import extract_choice, normalize_free, pick_option

ABCD = ("A", "B", "C", "D")
A_TO_J = tuple("ABCDEFGHIJ")

# (reply, offered letters, expected answer)
CASES: list[tuple[str, tuple[str, ...], str | None]] = [
    ("(B)", ABCD, "B"),
    ("B)", ABCD, "B"),
    ("B", ABCD, "B"),
    ("B.", ABCD, "B"),
    ("Answer: C", ABCD, "C"),
    ("Answer:C", ABCD, "C"),
    ("The answer is (A).", ABCD, "A"),
    ("The answer is D", ABCD, "D"),
    ("**B**", ABCD, "B"),
    ("**Answer: (D)**", ABCD, "D"),
    ("\n\n  (C) 12/25/1937", ABCD, "C"),
    ("   \tD", ABCD, "D"),
    ("[C]", ABCD, "C"),
    ("Option B is correct.", ABCD, "B"),
    ("Correct option: D) Gwen", ABCD, "D"),
    ("I think the answer is (B).", ABCD, "B"),           # "I" is not offered: skipped
    ("I'd say C", ABCD, "C"),
    ("I think it is (B).", A_TO_J, "I"),                 # nine+ options: the rule reads "I" as option I
    ("A dog cannot fly, so (C).", ABCD, "A"),           # the article "A" is option A under the paper's rule
    ("A", ABCD, "A"),
    ("All of them are wrong; the best is (C).", ABCD, "C"),  # "All" is a word, not a letter
    ("Based on the passage, B", ABCD, "B"),              # "Based" is a word
    ("E", ABCD, None),                                    # not an offered letter
    ("E is wrong, D is right", ABCD, "D"),
    ("none of these", ABCD, None),
    ("", ABCD, None),
    ("b", ABCD, None),                                    # lower case does not count
    ("(b) or (C)", ABCD, "C"),
    ("The correct answer is: (A) True", ("A", "B"), "A"),
    ("False, so (B)", ("A", "B"), "B"),                  # label text without a letter is not read
    ("Yes", ("A", "B"), None),
    ("(A)(B)", ABCD, "A"),
    ("Between C and D, I choose D.", ABCD, "C"),         # first offered letter wins, even if undecided
    ("1. B", ABCD, "B"),
    ("B2", ABCD, "B"),                                    # digits do not glue a letter into a word
    ("Answer —  D", ABCD, "D"),
    ("The answer is F.", tuple("ABCDEF"), "F"),
    ("It's (E).", tuple("ABCDE"), "E"),
    ("`A`", ABCD, "A"),
    ("ABC", ABCD, None),                                  # one word, no standalone letter
]


@pytest.mark.parametrize(("reply", "letters", "expected"), CASES)
def test_extract_choice(reply: str, letters: tuple[str, ...], expected: str | None) -> None:
    assert extract_choice(reply, letters) == expected


def test_at_least_thirty_forms() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) >= 30


@pytest.mark.parametrize(("reply", "expected"), [
    ("8", "8"), ("8.", "8"), ("  **8**  \nbecause ...", "8"), ("\n\n] ]", "] ]"),
    ('"apple banana cherry"', "apple banana cherry"), ("-23", "-23"), ("", ""),
])
def test_normalize_free(reply: str, expected: str) -> None:
    assert normalize_free(reply) == expected


def test_pick_option_length_normalised_and_ties_to_first() -> None:
    # Sums favour option 0, but per token option 1 is better (−0.5 vs −1.0).
    assert pick_option([-2.0, -3.0], [2, 6]) == 1
    assert pick_option([-1.0, -1.0], [1, 1]) == 0
    with pytest.raises(ValueError):
        pick_option([], [])
