"""Reading an answer out of a reply, and scoring a task.

The paper's rule (from Orca, which Lion follows): the answer is the first capital letter of the
reply. lion reads it as: the first capital letter that STANDS ALONE (not part of a word) and is one
of the offered option letters. "Standing alone" is what lets "Answer: C" read as C rather than as
the A of "Answer"; every form a model uses to name a letter — "(B)", "B)", "B.", "**B**", "[C]",
"Option D" — has the letter standing alone. Consequences, kept on purpose to stay faithful:
- a reply that opens with the article "A" ("A dog is …") answers A when A is offered. We do not
  guess intent; a model that writes prose before its letter pays for it, as in the paper's numbers.
- "I" ("I think it is (B)") is skipped when fewer than nine options are offered (no option I);
  with nine or more (geometric_shapes has up to J) it answers I, again as the rule says.
- a letter that is not offered ("E" when the options are A–D) is skipped, not counted wrong.
No letter found → no answer → scored wrong.

Free-form tasks (BBH's four, with --all-tasks) are scored by exact match of the reply's first
non-empty line, after trimming whitespace, surrounding quotes/asterisks and one trailing period.

Loglik mode picks the option with the highest mean log-probability per token; see `pick_option`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lion_cli.core.bench_tasks import BenchItem

_STANDALONE_CAPITAL = re.compile(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])")


def extract_choice(reply: str, letters: Sequence[str]) -> str | None:
    """The first standalone capital letter of `reply` that is one of `letters`, else None."""
    offered = set(letters)
    for m in _STANDALONE_CAPITAL.finditer(reply):
        if m.group(1) in offered:
            return m.group(1)
    return None


def normalize_free(text: str) -> str:
    """A free-form reply reduced to what exact match compares (see the module docstring)."""
    for line in text.strip().splitlines():
        line = line.strip().strip("*`\"'").strip()
        if line:
            line = line.removesuffix(".").strip()
            return " ".join(line.split())
    return ""


def extract_answer(item: BenchItem, reply: str) -> str | None:
    if item.is_choice:
        return extract_choice(reply, item.letters)
    got = normalize_free(reply)
    return got or None


def is_correct(item: BenchItem, extracted: str | None) -> bool:
    if extracted is None:
        return False
    if item.is_choice:
        return extracted == item.target
    return extracted == normalize_free(item.target)


def pick_option(logprob_sums: Sequence[float], token_counts: Sequence[int]) -> int:
    """Index of the option with the highest length-normalised log-probability (sum / tokens).

    Dividing by the token count keeps long options from losing just for being long. Ties go to
    the earliest option, so a result never depends on float noise in the order of evaluation."""
    if not logprob_sums or len(logprob_sums) != len(token_counts):
        raise ValueError("one log-probability sum and one token count per option")
    best, best_score = 0, -math.inf
    for i, (total, count) in enumerate(zip(logprob_sums, token_counts, strict=True)):
        score = total / max(count, 1)
        if score > best_score:
            best, best_score = i, score
    return best


@dataclass(frozen=True, slots=True)
class SampleResult:
    idx: int
    prompt: str
    reply: str
    extracted: str | None
    target: str
    correct: float | None          # None: the item was skipped (bad target)


@dataclass(slots=True)
class TaskResult:
    benchmark: str
    task: str
    mode: str                      # generate | loglik
    n: int = 0                     # scored items (skipped ones excluded)
    correct: float = 0.0
    skipped: int = 0
    samples: list[SampleResult] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Fraction correct over the scored items (0.0 when none were scored)."""
        return self.correct / self.n if self.n else 0.0


def score_generated(items: Sequence[BenchItem], replies: Mapping[int, str], *, mode: str = "generate") -> TaskResult:
    """Score one task's replies (keyed by item idx). Every item must have a reply."""
    if not items:
        raise ValueError("no items to score")
    res = TaskResult(items[0].benchmark, items[0].task, mode)
    for item in items:
        reply = replies[item.idx]
        if item.skip:
            res.skipped += 1
            res.samples.append(SampleResult(item.idx, item.prompt(mode), reply, None, item.target, None))
            continue
        got = extract_answer(item, reply)
        ok = 1.0 if is_correct(item, got) else 0.0
        res.n += 1
        res.correct += ok
        res.samples.append(SampleResult(item.idx, item.prompt(mode), reply, got, item.target, ok))
    return res


def score_loglik(items: Sequence[BenchItem], scores: Mapping[int, tuple[Sequence[float], Sequence[int]]]
                 ) -> TaskResult:
    """Score one task from per-option (log-prob sums, token counts), keyed by item idx. The stored
    'reply' is the chosen option's text, and each option's mean log-prob for inspection."""
    if not items:
        raise ValueError("no items to score")
    res = TaskResult(items[0].benchmark, items[0].task, "loglik")
    for item in items:
        if not item.is_choice:
            raise ValueError(f"{item.task}: loglik mode needs multiple-choice items")
        sums, counts = scores[item.idx]
        pick = item.letters[pick_option(sums, counts)]
        means = ", ".join(f"{ltr}={s / max(c, 1):.4f}" for ltr, s, c in zip(item.letters, sums, counts, strict=True))
        reply = f"{item.options[item.letters.index(pick)]}\n[mean log-prob per token: {means}]"
        if item.skip:
            res.skipped += 1
            res.samples.append(SampleResult(item.idx, item.prompt("loglik"), reply, pick, item.target, None))
            continue
        ok = 1.0 if pick == item.target else 0.0
        res.n += 1
        res.correct += ok
        res.samples.append(SampleResult(item.idx, item.prompt("loglik"), reply, pick, item.target, ok))
    return res


def macro_average(results: Sequence[TaskResult]) -> float:
    """The paper's average: the mean of per-task accuracies (each task weighs the same)."""
    scored = [r for r in results if r.n]
    return sum(r.accuracy for r in scored) / len(scored) if scored else 0.0
