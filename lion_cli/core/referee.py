"""Read the two scores out of a referee's reply, tolerant of how models really write them and never
guessing: anything ambiguous is a ParseFailure with a reason, never a wrong score.

Evidence is gathered from three kinds of statement and must all agree:
- labelled scores: "Assistant 1: 8", "Assistant 1 score: 8/10", "**Assistant 1:** 8", "Score of
  Assistant 2: 7", "Assistant 1 - 8 points", "Assistant 2 receives a score of 6", a table cell;
- JSON objects ({"assistant_1": 8, "assistant_2": 6}), also inside ``` fences;
- a pair of bare numbers ("8 6", "8, 6", "8/10 and 6/10") on the first or last line (the habit
  of FastChat-style prompts), or anywhere after a "Scores:" label; one number on each of the first
  two or last two lines; "Assistant 1:" with its number on the next line.
A number followed by a noun ("3 reasons", "3-point") is not a score, so justifications may mention
numbers. A statement offering more than one value ("8 or 9", "7 (or 8)", "| 8 | 9 |"), a negative
number, or a value off the 1–10 scale makes the whole reply a failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

LOW, HIGH = 1.0, 10.0


@dataclass(frozen=True, slots=True)
class Scores:
    """The referee's scores for the answer shown first and the answer shown second."""

    first: float
    second: float


@dataclass(frozen=True, slots=True)
class ParseFailure:
    reason: str


_SP = r"[^\S\n]"  # a space that does not cross a line
_NUM = r"(\d+(?:\.\d+)?)"
_SCALE = rf"(?:{_SP}*(?:/|out{_SP}+of){_SP}*(\d+(?:\.\d+)?))?"
_WHO = rf"\bassistant{_SP}*#?{_SP}*([12])(?![\d.]\d)"
_SCORE_WORD = r"(?:(?:overall|final|total)" + _SP + r"+)?(?:score|rating|grade)"
_SEP = r"[:=|\-–—(]"
_LABELLED = [
    # Assistant 1: 8 · Assistant 1's score is 8 · Assistant 1 score 8/10 · Assistant 1 - 8 points · | Assistant 1 | 8
    re.compile(rf"{_WHO}{_SP}*(?:'s)?{_SP}*(?:{_SEP}{_SP}*)?(?:\(?{_SCORE_WORD}{_SP}*(?:{_SEP}|is|of)?|{_SEP})"
               rf"{_SP}*(?:{_SCORE_WORD}{_SP}*[:=]?{_SP}*)?\(?{_SP}*{_NUM}{_SCALE}", re.I),
    # Score of Assistant 2: 7/10 · Rating for Assistant 1 = 8
    re.compile(rf"\b{_SCORE_WORD}s?{_SP}+(?:of|for){_SP}+{_WHO}{_SP}*(?:{_SEP}|is)?{_SP}*{_NUM}{_SCALE}", re.I),
    # Assistant 2 receives a score of 6 · Assistant 1 gets 8/10
    re.compile(rf"{_WHO}{_SP}+(?:receives|gets|scores|earns|deserves|is given|is rated){_SP}+(?:an?{_SP}+)?"
               rf"(?:{_SCORE_WORD}{_SP}+)?(?:of{_SP}+)?{_NUM}{_SCALE}", re.I),
    # I would give Assistant 1 an 8 · I rate Assistant 2 a 6/10 · award Assistant 1 a score of 9
    re.compile(rf"\b(?:give|award|assign|rate){_SP}+{_WHO}{_SP}+(?:an?{_SP}+)?(?:{_SCORE_WORD}{_SP}+(?:of{_SP}+)?)?"
               rf"{_NUM}{_SCALE}", re.I),
]
# After a score: the end of the line, punctuation, or one of these words ("8 points", "8 because …").
# "3-point" and "8,5" are not a score followed by punctuation; the next assistant's label may follow.
_TAIL_OK = re.compile(rf"{_SP}*(?:$|(?![-–,|]{_SP}*\w)[^\w\s]|[-–—|]{_SP}+[^\W\d]|,{_SP}+\S|"
                      r"(?:points?|pts|and|but|for|because|since|as|overall|with|while|vs|versus|which|though|"
                      rf"although)\b|{_WHO})", re.I | re.M)
# "8 or 9", "8-9", "7 to 8", "7 → 8": more than one value offered for one assistant.
_AMBIGUOUS = re.compile(rf"{_SP}*(?:or|to|-|–|—|~|→|->|/){_SP}*\d", re.I)
# Other values in the same statement: a decimal comma ("8,5"), another table column ("| 8 | 9 |"),
# or a hedge ("7 (or 8)", "7, maybe 8"). Checked up to the end of the line or the next assistant.
_OTHER_VALUE = re.compile(rf"^(?:,\d|{_SP}*\|{_SP}*\d|.*?\b(?:or|maybe|perhaps|possibly|could|might|between|"
                          r"rather|arguably)\b.*?\d)", re.I)
_NEXT_WHO = re.compile(_WHO, re.I)
_BARE = re.compile(rf"^{_NUM}{_SCALE}$")  # no trailing dot: "1." on its own line is a list marker
_LABEL_ALONE = re.compile(rf"^{_WHO}{_SP}*(?:'s)?{_SP}*(?:{_SCORE_WORD})?{_SP}*:?$", re.I)
_PAIR = re.compile(rf"^[\[(]?{_SP}*(?P<label>(?:(?:final|overall){_SP}+)?(?:scores?|ratings?){_SP}*(?:[:=\-]|are|is)?)?"
                   rf"{_SP}*{_NUM}{_SCALE}{_SP}*(?:,|;|&|and|vs\.?|{_SP}){_SP}*{_NUM}{_SCALE}{_SP}*[\])]?{_SP}*\.?$",
                   re.I)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
_OBJECT = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")
_JSON_KEY = re.compile(r"^(?:assistant|score|rating)_?(?:score_?)?([12])(?:_?score)?$")


class _Evidence:
    def __init__(self) -> None:
        self.values: dict[int, list[float]] = {1: [], 2: []}
        self.problem: str | None = None

    def add(self, who: int, number: str, scale: str | None, where: str) -> None:
        if self.problem:
            return
        if scale is not None and float(scale) != 10:
            self.problem = f"score {number}/{scale} is not on the 1–10 scale ({where})"
            return
        value = float(number)
        if not LOW <= value <= HIGH:
            self.problem = f"score {number} for Assistant {who} is outside 1–10 ({where})"
            return
        self.values[who].append(value)


def parse_scores(reply: str) -> Scores | ParseFailure:
    """Scores(first, second) in 1..10, or ParseFailure(reason) when the reply is unreadable or ambiguous."""
    if not reply or not reply.strip():
        return ParseFailure("empty reply")
    ev = _Evidence()
    _from_json(reply, ev)
    text = re.sub(r"\*\*|__|`", "", reply)  # markdown emphasis around labels and numbers
    _from_labels(text, ev)
    _from_pairs(text, ev)
    if ev.problem:
        return ParseFailure(ev.problem)
    for who in (1, 2):
        distinct = sorted(set(ev.values[who]))
        if len(distinct) > 1:
            shown = ", ".join(f"{v:g}" for v in distinct)
            return ParseFailure(f"conflicting scores for Assistant {who}: {shown}")
    first, second = ev.values[1], ev.values[2]
    if not first and not second:
        return ParseFailure("no scores found")
    if not first or not second:
        return ParseFailure(f"only Assistant {1 if first else 2} was scored")
    return Scores(first[0], second[0])


def _from_labels(text: str, ev: _Evidence) -> None:
    seen: set[tuple[int, int]] = set()  # (start of the number) — patterns may overlap on one statement
    for pattern in _LABELLED:
        for m in pattern.finditer(text):
            who, number, scale = int(m.group(1)), m.group(2), m.group(3)
            if (who, m.start(2)) in seen:
                continue
            rest = text[m.end():]
            if _AMBIGUOUS.match(rest) and scale is None:
                ev.problem = ev.problem or f"more than one score offered for Assistant {who}: {m.group(0).strip()!r}…"
                return
            if not _TAIL_OK.match(rest):
                continue  # "Assistant 1: 3 reasons …" is a justification, not a score
            statement = rest.split("\n", 1)[0]
            nxt = _NEXT_WHO.search(statement)
            statement = statement[:nxt.start()] if nxt else statement
            if _OTHER_VALUE.match(statement):
                ev.problem = ev.problem or f"more than one score offered for Assistant {who}: {m.group(0).strip()!r}…"
                return
            if _negative(text, m.start(2)):
                ev.problem = ev.problem or f"negative score for Assistant {who}: {m.group(0).strip()!r}"
                return
            seen.add((who, m.start(2)))
            ev.add(who, number, scale, repr(m.group(0).strip()))


def _negative(text: str, start: int) -> bool:
    """A minus sign glued to the number ("Assistant 2: -6"), not a dash used as a separator ("- 6")."""
    return start >= 1 and text[start - 1] in "-−–" and (start < 2 or text[start - 2] in " \t:=(|")


def _from_pairs(text: str, ev: _Evidence) -> None:
    lines = [re.sub(r"^[\s#>*\-]+", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    for i, line in enumerate(lines):
        m = _PAIR.match(line)
        if m and (m.group("label") or i in (0, len(lines) - 1)):
            ev.add(1, m.group(2), m.group(3), repr(line))
            ev.add(2, m.group(4), m.group(5), repr(line))
        alone = _LABEL_ALONE.match(line)  # "Assistant 1:" with its score on the next line
        bare = _BARE.match(lines[i + 1]) if alone and i + 1 < len(lines) else None
        if alone and bare:
            ev.add(int(alone.group(1)), bare.group(1), bare.group(2), repr(f"{line} {lines[i + 1]}"))
    # Two lines holding one number each, opening or closing the reply: "8\n6".
    for a, b in ((0, 1), (len(lines) - 2, len(lines) - 1)):
        if 0 <= a < b < len(lines) and a != b:
            first, second = _BARE.match(lines[a]), _BARE.match(lines[b])
            if first and second:
                ev.add(1, first.group(1), first.group(2), repr(lines[a]))
                ev.add(2, second.group(1), second.group(2), repr(lines[b]))


def _from_json(reply: str, ev: _Evidence) -> None:
    chunks = [m.group(1) for m in _FENCE.finditer(reply)] + [m.group(0) for m in _OBJECT.finditer(reply)]
    for chunk in chunks:
        try:
            obj = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(obj, dict):
            _json_scores(obj, ev)


def _json_scores(obj: dict[str, Any], ev: _Evidence) -> None:
    for key, value in obj.items():
        if str(key).strip().lower() in ("scores", "ratings") and isinstance(value, list):  # {"scores": [8, 6]}
            numbers = [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
            if len(value) == 2 and len(numbers) == 2:
                ev.add(1, str(numbers[0]), None, f"JSON key {key!r}")
                ev.add(2, str(numbers[1]), None, f"JSON key {key!r}")
            continue
        m = _JSON_KEY.match(re.sub(r"[\s\-]+", "_", str(key).strip().lower()))
        if not m:
            continue
        if isinstance(value, dict):  # {"assistant_1": {"score": 8, "reason": "…"}}
            value = next((v for k, v in value.items() if str(k).lower() in ("score", "rating")), None)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            ev.add(int(m.group(1)), str(value), None, f"JSON key {key!r}")
        elif isinstance(value, str):
            s = re.fullmatch(rf"\s*{_NUM}{_SCALE}\s*", value)
            if s:
                ev.add(int(m.group(1)), s.group(1), s.group(2), f"JSON key {key!r}")
