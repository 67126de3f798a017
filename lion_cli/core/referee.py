"""Read the two scores out of a referee's reply, or refuse: a reply whose scores cannot be read
without guessing is a ParseFailure with a reason, never a score.

The rule, exactly. Markdown emphasis (`**`, `*`, `__`, backticks) is ignored and "(1-10)" or "on a
scale of 1 to 10" is dropped. Then every score statement in the reply is collected:
- labelled: "Assistant 1" or "Assistant #1" (any case) joined to a number by ":", "=", "-", "|",
  "(", "'s score is", "score:", "receives / gets / scores / earns / deserves / is given / is rated
  [a score of]", or written as "Score of / Rating for Assistant 1: 8" or "give / award / assign /
  rate Assistant 1 a(n) 8"; also a line holding only "Assistant 1:" with its number alone on the
  next line;
- JSON: any object with keys such as "assistant_1", "Assistant 1", "score_1", "assistant_1_score",
  holding a number, a "8/10" string or {"score": 8}; "scores": [8, 6] or {"1": 8, "2": 6};
- bare: two numbers ("8 6", "8, 6", "8/10 and 6/10", "8 vs 6") alone on the first or the last line
  or after "Scores:"; one number alone on each of the first two or the last two lines. Bare numbers
  are read in presentation order (first, second).
A number is ASCII digits with an optional decimal part ("7", "7.5", "7."), optionally "/10",
"out of 10", "(out of 10)" or "points out of 10"; it must lie in 1..10. A labelled number is prose,
not a statement, when a word makes it a count ("3 reasons", "3-point", "8th") or when it scores one
criterion ("3 points for accuracy", "Clarity: Assistant 1: 6"): reasoning before the final lines
may hold such numbers without counting or conflicting.

The reply is a ParseFailure when any of these holds:
- no statement, or only one assistant scored; statements that disagree (a line repeated with another
  value, JSON against text, a bare pair against labels);
- a statement offering more than one value: a second number or a hedge in the rest of its statement
  (to the end of the line or the next label: "7 or 8", "7-8", "7, 8", "8 vs 6", "8 (7 if strict)",
  "8 because it has 3 steps", "8, roughly"), "8+", "8?", "80%", a negative number, a decimal comma;
- a labelled "1. Correct" or "2) Vague": a list item cannot be told from a score;
- a value off 1..10, a scale other than 10 ("4/5", "out of 5", "on a scale of 1 to 5");
- an assistant other than 1 and 2 named anywhere (text or JSON); a score under another name
  ("Answer 1: 8", "Assistant A: 8", "The first answer: 8"); one score for two names ("Assistant 1
  and Assistant 2: 7");
- a line of bare numbers that is not one of the pairs above (a third number, a stray correction),
  bare numbers beside a line naming Assistant 2 before Assistant 1 (or "reverse"), two numbers under
  a lone "Assistant 1:";
- a JSON key repeated, or holding a list, a string like "7 or 8", or two different scores;
- a struck-out number ("~~7~~ 8"); a revision after the first statement ("actually", "on second
  thought", "on reflection", "correction", "revise", "reconsider", "I meant", "scratch that",
  "let me change …", "wait,", a line opening with "Update", "Edit" or "P.S.");
- after the last statement, a number in 1..10 that reads as a value rather than a count or a
  reference ("Final answer: 7 6", "Assistant 1 is a 7 really"; but "covers 3 requirements" and
  "step 3" are fine), or "instead", "rather", "should be", "make it", "raise", "lower", "change",
  "adjust" followed by a number;
- a stated winner ("Winner: Assistant 2", "Final verdict: …", "Better answer: …", "Verdict: tie",
  JSON "winner") that the scores contradict, or more than one winner;
- a score written as a word ("Assistant 1: seven") beside numeric scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lion_cli.core.referee_json import read_json
from lion_cli.core.referee_statements import HIGH, LOW, SP, WHO, Evidence, read_bare, read_labelled

__all__ = ["HIGH", "LOW", "ParseFailure", "Scores", "parse_scores"]


@dataclass(frozen=True, slots=True)
class Scores:
    """The referee's scores for the answer shown first and the answer shown second."""

    first: float
    second: float


@dataclass(frozen=True, slots=True)
class ParseFailure:
    reason: str


_EMPHASIS = re.compile(r"(?<!\s)\*+|\*+(?!\s)|__|`")
_TEN_SCALE = re.compile(rf"\(1{SP}*(?:-|–|to){SP}*10\)|\b(?:on{SP}+)?(?:a{SP}+)?(?:scale|range){SP}+(?:of|from)"
                        rf"{SP}+1{SP}*(?:-|–|to){SP}*10\b", re.I)
_OTHER_SCALE = re.compile(rf"\b(?:scale|range){SP}+(?:of|from){SP}+([0-9]+){SP}*(?:-|–|to){SP}*([0-9]+)|"
                          rf"\(([01]){SP}*(?:-|–|to){SP}*([0-9]+)\)", re.I)
_ANY_ASSISTANT = re.compile(rf"\bassistant{SP}*#?{SP}*([0-9]+)(?![.,][0-9])", re.I)
# Scores under names this parser does not read ("Answer 1: 8", "Assistant A: 8", "The first answer: 8"):
# beside "Assistant" scores they could disagree, alone they are not read; either way, refused.
_OTHER_NAME = re.compile(rf"\b(?:(?:answer|response|output|candidate|submission){SP}*#?{SP}*[12]|"
                         rf"assistant{SP}+(?:one|two|a|b)|(?:the{SP}+)?(?:first|second){SP}+"
                         rf"(?:answer|response|assistant|one)(?:'s{SP}+score)?){SP}*[:=\-–—]{SP}*[0-9]", re.I)
_REVISED = re.compile(r"\b(?:actually|on second thoughts?|(?:up)?on (?:further )?reflection|correction|corrected|"
                      r"revis(?:e|ed|es|ing|ion)|reconsider\w*|I meant|scratch that|"
                      r"let me (?:re\w+|change|adjust|correct|update|fix))\b|\bwait\b[,.!—-]|"
                      r"^\W*(?:update|edit|p\.?s)\b", re.I | re.M)
_REVISED_TO = re.compile(r"\b(?:instead|rather|should (?:be|get|have)|make (?:it|that)|rais\w*|lower\w*|bump\w*|"
                         r"chang\w*|adjust\w*|increas\w*|decreas\w*|upgrad\w*|downgrad\w*)\b[^\n]*?[0-9]", re.I)
_LATER_NUMBER = re.compile(r"(?<![\w.,/-])([0-9]+(?:\.[0-9]+)?)(?![\w.,]*[0-9])")
_REFERENCE = re.compile(r"\b(?:steps?|items?|points?|lines?|paragraphs?|sections?|versions?|pages?|chapters?|"
                        r"questions?|parts?|rules?|no\.|number|python|gpt|top)\W*$|#$", re.I)
# A word after the number that makes it a count ("3 requirements"), unless the word goes on a score
# ("7 and 6", "a 7 really", "8 for style", "7 if it cited sources").
_COUNT_AFTER = re.compile(rf"{SP}*(?:-{SP}*)?(?!(?:and|or|but|if|really|instead|then|now|is|was|would|should|could|"
                          r"might|vs|versus|to|overall|rather|for|because|since|as|with|while|which|though|although|at|"
                          rf"in|on)\b)(?!(?:out{SP}+)?of{SP}*[0-9])[^\W\d_]", re.I)
_STRUCK = re.compile(r"~~[^~\n]*[0-9][^~\n]*~~")
_WINNER = re.compile(rf"^[\W_]*(?:(?:final|overall){SP}+)?(?:winner|better{SP}+(?:answer|response|assistant)|verdict|"
                     rf"preferred(?:{SP}+(?:answer|response|assistant))?){SP}*(?:[:=\-–—]|is){SP}*(?:the{SP}+)?"
                     rf"(?:assistant{SP}*#?{SP}*([12])\b|(tie|draw|neither|both|equal)\b)", re.I | re.M)
_WORD_SCORE = re.compile(rf"{WHO}{SP}*(?:'s)?{SP}*(?:score|rating)?{SP}*(?:[:=|\-–—]|is){SP}*(?:an?{SP}+)?"
                         r"(?:one|two|three|four|five|six|seven|eight|nine|ten)\b", re.I)


def parse_scores(reply: str) -> Scores | ParseFailure:
    """Scores(first, second) in 1..10, or ParseFailure(reason) when the reply is unreadable or ambiguous."""
    if not reply or not reply.strip():
        return ParseFailure("empty reply")
    text = _TEN_SCALE.sub(" ", _EMPHASIS.sub("", reply.replace("\r\n", "\n")))
    ev = Evidence()
    read_json(text, ev)
    read_labelled(text, ev)
    read_bare(text, ev)
    _check_reply(text, ev)
    if ev.problem:
        return ParseFailure(ev.problem)
    for who in (1, 2):
        distinct = sorted(set(ev.values[who]))
        if len(distinct) > 1:
            return ParseFailure(f"conflicting scores for Assistant {who}: {', '.join(f'{v:g}' for v in distinct)}")
    first, second = ev.values[1], ev.values[2]
    if not first and not second:
        return ParseFailure("no scores found")
    if not first or not second:
        return ParseFailure(f"only Assistant {1 if first else 2} was scored")
    scores = Scores(first[0], second[0])
    contradiction = _winner_contradiction(text, ev, scores)
    return ParseFailure(contradiction) if contradiction else scores


def _check_reply(text: str, ev: Evidence) -> None:
    """The problems that belong to the reply as a whole rather than to one statement."""
    for m in _ANY_ASSISTANT.finditer(text):
        if m.group(1) not in ("1", "2"):
            ev.fail(f"the reply names Assistant {m.group(1)}, but only Assistants 1 and 2 were shown")
    other_name = _OTHER_NAME.search(text)
    if other_name:
        ev.fail(f"a score under another name than Assistant 1 or 2: {other_name.group(0)!r}")
    for m in _OTHER_SCALE.finditer(text):
        low, high = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if (int(low), int(high)) != (1, 10):
            ev.fail(f"the reply scores on a {low}–{high} scale, not 1–10: {m.group(0)!r}")
    struck = _STRUCK.search(text)
    if struck:
        ev.fail(f"a struck-out score: {struck.group(0)!r}")
    if ev.first_at is None:
        return
    revised = _REVISED.search(text, ev.first_at)
    if revised:
        ev.fail(f"the reply revises its scores ({revised.group(0)!r} after the first score)")
    revised_to = _REVISED_TO.search(text, ev.last_end)
    if revised_to:
        ev.fail(f"the reply changes a score after giving it: {revised_to.group(0)!r}")
    later = _later_value(text, ev)
    if later:
        ev.fail(f"a number after the scores that could be another score: {later!r}")
    word = _WORD_SCORE.search(text)
    if word:
        ev.fail(f"a score written as a word: {word.group(0)!r}")


def _later_value(text: str, ev: Evidence) -> str | None:
    """A number after the last statement that reads like a score ("Update: 7 and 6", "Assistant 1
    is a 7 really") rather than a count ("covers 3 requirements") or a reference ("step 3")."""
    masked = _ANY_ASSISTANT.sub(lambda m: "A" * len(m.group(0)), text)  # label digits are not values
    for m in _LATER_NUMBER.finditer(masked, ev.last_end):
        if any(a <= m.start() < b for a, b in ev.json_spans) or not LOW <= float(m.group(1)) <= HIGH:
            continue
        if _REFERENCE.search(masked, max(0, m.start() - 12), m.start()):
            continue
        if _COUNT_AFTER.match(masked, m.end()):
            continue
        return masked[max(0, m.start() - 20):m.end() + 10].strip()
    return None


def _winner_contradiction(text: str, ev: Evidence, scores: Scores) -> str | None:
    winners = set(ev.winners)
    winners |= {m.group(1) or "tie" for m in _WINNER.finditer(text)}
    if len(winners) > 1:
        return f"the reply names more than one winner: {sorted(winners)}"
    expected = "1" if scores.first > scores.second else "2" if scores.second > scores.first else "tie"
    if winners and winners != {expected}:
        return f"the scores {scores.first:g} and {scores.second:g} contradict the stated winner ({winners.pop()})"
    return None
