"""The score statements of a referee reply written as text: labelled scores and bare numbers.

Each reader adds what it finds to an `Evidence`; a statement that offers more than one value, or
that cannot be told apart from a list item, a count or a range, records a problem instead. The rule
they implement is written down in lion_cli/core/referee.py.
"""

from __future__ import annotations

import re

LOW, HIGH = 1.0, 10.0

SP = r"[^\S\n]"  # a space that does not cross a line
NUM = r"([0-9]+(?:\.[0-9]+)?)"  # ASCII digits only: "٨" or "８" is refused, not read
# "/10", "out of 10", "of 10", "(out of 10)", "points out of 10": the scale a score is given on.
SCALE = rf"(?:{SP}*(?:points?{SP}*)?\(?{SP}*(?:/|(?:out{SP}+)?of){SP}*([0-9]+(?:\.[0-9]+)?){SP}*\)?)?"
WHO = rf"\bassistant{SP}*#?{SP}*([12])(?![0-9]|[.,][0-9])"
_SCORE_WORD = rf"(?:(?:overall|final|total){SP}+)?(?:score|rating|grade)"
_SEP = r"[:=|\-–—(]"
LABELLED = [
    # Assistant 1: 8 · Assistant 1's score is 8 · Assistant 1 score 8/10 · Assistant 1 - 8 points · | Assistant 1 | 8
    re.compile(rf"{WHO}{SP}*(?:'s)?{SP}*(?:{_SEP}{SP}*)?(?:\(?{_SCORE_WORD}{SP}*(?:{_SEP}|is|of)?|{_SEP})"
               rf"{SP}*(?:{_SCORE_WORD}{SP}*[:=]?{SP}*)?\(?{SP}*{NUM}{SCALE}", re.I),
    # Score of Assistant 2: 7/10 · Rating for Assistant 1 = 8
    re.compile(rf"\b{_SCORE_WORD}s?{SP}+(?:of|for){SP}+{WHO}{SP}*(?:{_SEP}|is)?{SP}*{NUM}{SCALE}", re.I),
    # Assistant 2 receives a score of 6 · Assistant 1 gets 8/10
    re.compile(rf"{WHO}{SP}+(?:receives|gets|scores|earns|deserves|is given|is rated){SP}+(?:an?{SP}+)?"
               rf"(?:{_SCORE_WORD}{SP}+)?(?:of{SP}+)?{NUM}{SCALE}", re.I),
    # I would give Assistant 1 an 8 · I rate Assistant 2 a 6/10 · award Assistant 1 a score of 9
    re.compile(rf"\b(?:give|award|assign|rate){SP}+{WHO}{SP}+(?:an?{SP}+)?(?:{_SCORE_WORD}{SP}+(?:of{SP}+)?)?"
               rf"{NUM}{SCALE}", re.I),
]
# What may follow a score: the end of the line, punctuation, one of these words, or the next label.
# Anything else ("3 reasons", "3-point", "8th") makes the number a count in a sentence, not a score.
_TAIL_OK = re.compile(rf"{SP}*(?:$|(?![-–,|]{SP}*\w)[^\w\s]|[-–—|]{SP}+[^\W\d]|,{SP}+\S|"
                      r"(?:points?|pts|and|but|for|because|since|as|overall|with|while|vs|versus|which|though|"
                      rf"although)\b|{WHO})", re.I | re.M)
# A second value right after the first: "8 or 9", "8-9", "7 to 8", "7, 8", "8 vs 6", "| 8 | 9 |", "8,5".
_SECOND_VALUE = re.compile(rf"{SP}*(?:(?:or|to|and|vs\.?|versus|then)\b|[-–—~→/,;|]|->)?{SP}*[0-9]", re.I)
# A number that is not a plain score: "8+", "8?", "80%".
_HEDGED = re.compile(rf"[+?±]|{SP}*%")  # used with match(): anchored
# A hedge later in the statement: "8 (roughly)", "8, give or take".
_HEDGE_WORDS = re.compile(r"\b(?:maybe|perhaps|possibly|roughly|approximately|or so|give or take|tentative(?:ly)?|"
                          r"provisional(?:ly)?|at least|at most|or more|or less|ish)\b|±|\+/-", re.I)
# "Assistant 1: 1. Correct and complete." — a list item or the score 1? Not told apart, so refused.
_LIST_ITEM = re.compile(rf"[.)]{SP}+(?!assistant\b)[^\W\d_]", re.I)
# A score for one criterion ("3 points for accuracy", "Clarity: Assistant 1: 6") is not the overall
# score: it is read as prose, so a breakdown before the final lines neither counts nor conflicts.
_CRITERION = (r"(?:accura\w*|correct\w*|clar\w*|relevan\w*|helpful\w*|complete\w*|detail\w*|level of detail|"
              r"depth|concise\w*|creativ\w*|style|coheren\w*|fluen\w*|format\w*|organi[sz]ation|structure|"
              r"readab\w*|harmless\w*|safety|honest\w*|grammar|length|tone|precision|useful\w*|informative\w*)")
_FOR_CRITERION = re.compile(rf"{SP}*(?:points?{SP}+)?(?:for|on|in){SP}+(?:(?:its|the|their){SP}+)?{_CRITERION}\b",
                            re.I)
_CRITERION_BEFORE = re.compile(rf"\b{_CRITERION}{SP}*(?:score{SP}*)?[:\-–—]", re.I)
_TWO_NAMES = re.compile(rf"{WHO}{SP}*(?:and|&|vs\.?|versus|or|,|/|than|with|compared{SP}+(?:to|with)){SP}*"
                        rf"(?:(?:the|that|of){SP}+)?$", re.I)
_NEXT_WHO = re.compile(WHO, re.I)
_BARE = re.compile(rf"^{NUM}{SCALE}$")  # no trailing dot: "1." on its own line is a list marker
_LIST_MARKER = re.compile(r"^[0-9]+[.)]$")
_LABEL_ALONE = re.compile(rf"^{WHO}{SP}*(?:'s)?{SP}*(?:{_SCORE_WORD})?{SP}*:?$", re.I)
_PAIR_LABEL = rf"(?:(?:final|overall){SP}+)?(?:scores?|ratings?)"
_PAIR = re.compile(rf"^[\[(]?{SP}*(?P<label>{_PAIR_LABEL}{SP}*(?:[:=\-]|are|is)?)?"
                   rf"{SP}*{NUM}{SCALE}{SP}*(?:,|;|&|and|vs\.?|{SP}){SP}*{NUM}{SCALE}{SP}*[\])]?{SP}*\.?$", re.I)
_SCORES_LINE = re.compile(rf"^{_PAIR_LABEL}{SP}*(?:[:=\-]|are|is){SP}*[\[(]?{SP}*[0-9]", re.I)  # "Scores: 8 …"
# Only numbers and the glue between them: "8 6 7", "8 or 6", "| 8 | 6 |".
_NUMBERS_ONLY = re.compile(r"^(?:[\s0-9.,;:/&|()\[\]+\-–—~%]|\b(?:or|and|to|vs)\b)*$", re.I)  # and a digit
# Names in the order 2 then 1, or "reverse": the bare numbers beside it are not in presentation order.
_REORDERED = re.compile(rf"assistant{SP}*#?{SP}*2\b.*\bassistant{SP}*#?{SP}*1\b|\brevers", re.I)
_BULLET = re.compile(r"^(?:[#>*•]|[-+](?=\s)|\s)+")


class Evidence:
    """Every score statement found in a reply, and the first reason it cannot be read."""

    def __init__(self) -> None:
        self.values: dict[int, list[float]] = {1: [], 2: []}
        self.problem: str | None = None
        self.first_at: int | None = None  # where the first score statement starts
        self.last_end = 0                 # where the last one ends
        self.winners: set[str] = set()    # "1", "2" or "tie", as the reply states them
        self.json_spans: list[tuple[int, int]] = []

    def fail(self, reason: str) -> None:
        self.problem = self.problem or reason

    def add(self, who: int, number: str, scale: str | None, where: str, span: tuple[int, int]) -> None:
        if self.problem:
            return
        if scale is not None and float(scale) != 10:
            self.fail(f"score {number}/{scale} is not on the 1–10 scale ({where})")
            return
        value = float(number)
        if not LOW <= value <= HIGH:  # NaN fails this too
            self.fail(f"score {number} for Assistant {who} is outside 1–10 ({where})")
            return
        self.values[who].append(value)
        self.first_at = span[0] if self.first_at is None else min(self.first_at, span[0])
        self.last_end = max(self.last_end, span[1])


def read_labelled(text: str, ev: Evidence) -> None:
    seen: set[tuple[int, int]] = set()  # (who, start of the number): the patterns may overlap
    for index, pattern in enumerate(LABELLED):
        for m in pattern.finditer(text):
            who = int(m.group(1))
            if (who, m.start(2)) in seen:
                continue
            verdict = _statement_verdict(text, m, colon_form=index == 0)
            if verdict == "prose":
                continue
            if verdict != "score":
                ev.fail(f"{verdict} for Assistant {who}: {m.group(0).strip()!r}")
                return
            seen.add((who, m.start(2)))
            ev.add(who, m.group(2), m.group(3), repr(m.group(0).strip()), (m.start(), m.end()))


def _statement_verdict(text: str, m: re.Match[str], *, colon_form: bool) -> str:
    """"score", "prose" (a count in a sentence, not a score), or what makes the statement ambiguous."""
    end = m.end()
    if _HEDGED.match(text, end):
        return "a hedged or non-score number"
    if _SECOND_VALUE.match(text, end):
        return "more than one score offered"
    if not _TAIL_OK.match(text, end) or _FOR_CRITERION.match(text, end):
        return "prose"
    # What stands just before the label on its line (a bounded window: replies can be one long line).
    before = max(text.rfind("\n", max(0, m.start() - 80), m.start()) + 1, m.start() - 80, 0)
    if _CRITERION_BEFORE.search(text, before, m.start()):
        return "prose"
    if _TWO_NAMES.search(text, before, m.start()):
        return "one score for two assistants"  # "Assistant 1 and Assistant 2: 7", "Assistant 1 vs Assistant 2: 8"
    plain_integer = m.group(3) is None and "." not in m.group(2)
    if colon_form and plain_integer and _LIST_ITEM.match(text, end) and not (text[end] == ")" and "(" in m.group(0)):
        return "a list item, not clearly a score,"
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    nxt = _NEXT_WHO.search(text, end, line_end)
    statement = text[end:nxt.start() if nxt else line_end]
    if re.search(r"[0-9]", statement) or _HEDGE_WORDS.search(statement):
        return "more than one score offered"
    start = m.start(2)
    if start >= 1 and text[start - 1] in "-−–" and (start < 2 or text[start - 2] in " \t:=(|"):
        return "a negative score"  # "Assistant 2: -6"; "Assistant 2 - 6" is a dash used as a separator
    return "score"


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, line without bullets and surrounding space) for every non-empty line."""
    out, offset = [], 0
    for raw in text.split("\n"):
        kept = _BULLET.sub("", raw)
        line = kept.strip()
        if line:
            out.append((offset + len(raw) - len(kept.lstrip()), line))
        offset += len(raw) + 1
    return out


def read_bare(text: str, ev: Evidence) -> None:
    """Bare numbers: a pair on the first or last line or after "Scores:", one number on each of the
    first two or last two lines, a lone "Assistant 1:" line with its number on the next line. Any
    other line of bare numbers outside JSON is a problem (a third score? a correction?)."""
    lines = [(at, line) for at, line in _lines(text)
             if not any(a <= at < b for a, b in ev.json_spans)]
    used: set[int] = set()
    last = len(lines) - 1
    for i, (at, line) in enumerate(lines):
        m = _PAIR.match(line)
        if m and (m.group("label") or i in (0, last)):
            _add_pair(ev, lines, i, i, (m.group(2), m.group(3)), (m.group(4), m.group(5)))
            used.add(i)
        elif _SCORES_LINE.match(line):
            ev.fail(f"a score line that is not one pair of scores: {line!r}")
        alone = _LABEL_ALONE.match(line)
        if alone and i + 1 <= last and (bare := _BARE.match(lines[i + 1][1])):
            if i + 2 <= last and _BARE.match(lines[i + 2][1]):
                ev.fail(f"more than one number under {line!r}")
            ev.add(int(alone.group(1)), bare.group(1), bare.group(2), repr(f"{line} {lines[i + 1][1]}"),
                   (at, lines[i + 1][0] + len(lines[i + 1][1])))
            used |= {i + 1}
    for a in {0, last - 1}:
        _two_line_pair(ev, lines, a, used)
    for i, (_at, line) in enumerate(lines):
        if i not in used and _NUMBERS_ONLY.match(line) and re.search(r"[0-9]", line) and not _LIST_MARKER.match(line):
            ev.fail(f"a line of bare numbers that is not a score pair: {line!r}")


def _two_line_pair(ev: Evidence, lines: list[tuple[int, str]], a: int, used: set[int]) -> None:
    """"8\\n6" opening or closing the reply, with no third number or lone label beside it."""
    b = a + 1
    if a < 0 or b >= len(lines) or a in used or b in used:
        return
    first, second = _BARE.match(lines[a][1]), _BARE.match(lines[b][1])
    if not (first and second):
        return
    before = lines[a - 1][1] if a > 0 else ""
    after = lines[b + 1][1] if b + 1 < len(lines) else ""
    if _LABEL_ALONE.match(before) or _BARE.match(before) or _BARE.match(after):
        return  # not a pair: a labelled number and a stray one, or three numbers in a row
    _add_pair(ev, lines, a, b, (first.group(1), first.group(2)), (second.group(1), second.group(2)))
    used |= {a, b}


def _add_pair(ev: Evidence, lines: list[tuple[int, str]], a: int, b: int,
              first: tuple[str, str | None], second: tuple[str, str | None]) -> None:
    before = lines[a - 1][1] if a > 0 else ""
    if _REORDERED.search(before) or _REORDERED.search(lines[a][1]):
        ev.fail(f"bare scores whose order the reply changes: {before!r} {lines[a][1]!r}")
        return
    if _LABEL_ALONE.match(before):
        ev.fail(f"two numbers under {before!r}")
        return
    where, span = repr(" ".join(line for _, line in lines[a:b + 1])), (lines[a][0], lines[b][0] + len(lines[b][1]))
    ev.add(1, first[0], first[1], where, span)
    ev.add(2, second[0], second[1], where, span)
