"""Evaluation protocols: how a BBH / AGIEval item is asked, decoded, read and scored.

A protocol fixes the whole chain that makes a number comparable with a published one:
- paper: the Lion paper's zero-shot run (no chain of thought): the dataset's question and options,
  asked in the student's own prompt layout, sampled with the official inference settings
  (temperature 0.7, top_k 50, top_p 1.0, up to 1024 new tokens) from a fixed seed. The answer is the
  first capital letter of the reply, read character by character; the letters that count are the
  option letters offered (A, B, … as many as there are options) and, for BBH's two-label tasks, the
  capitalised initials of the two labels (T/F, Y/N, V/I). Any other character, capitals included, is
  passed over; a reply with none of them has no answer (wrong). Free-form BBH tasks: exact match.
- agieval: AGIEval's own zero-shot prompt ("Q: … Answer Choices: (A)… (B)…\\nA: Among A through E,
  the answer is") and its answer rule: the first character of the reply among A–F, whatever the
  options (AGIEval's own set), greedy. BBH items are posed the same way (letters up to the last
  offered one count there, since BBH offers up to 18); free-form ones as AGIEval's cloze form.
- harness: lm-evaluation-harness's BBH zero-shot and AGIEval tasks (eval/harness_rules.py).
- lion: lion's own prompt and reading (core/bench_tasks.py, core/bench_answers.py), greedy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lion_cli.core.bench_answers import extract_answer, is_correct, normalize_free
from lion_cli.core.bench_tasks import BBH_BINARY_TASKS, BenchItem

PROTOCOLS = ("paper", "agieval", "harness", "lion")
# The official inference script's settings (transformers' GenerationConfig defaults where it set none).
PAPER_SAMPLING = {"temperature": 0.7, "top_p": 1.0, "top_k": 50, "max_new_tokens": 1024}
PAPER_SEED = 42
AGIEVAL_LETTERS = "ABCDEF"


@dataclass(frozen=True, slots=True)
class Example:
    """One item as lion parsed it and as the data file holds it (the harness renders the latter)."""

    item: BenchItem
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Decoding:
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    """What a protocol read from one reply: the prediction it compares, and the item's score."""

    prediction: str | None
    score: float
    detail: dict[str, Any] = field(default_factory=dict)


class BenchProtocol:
    """The lion-free defaults; each protocol overrides what it does differently."""

    name: ClassVar[str] = ""
    raw_prompt: ClassVar[bool] = False   # True: the prompt text as it is; False: in the student's layout
    scores_skipped: ClassVar[bool] = False  # True: items lion skips (bad upstream targets) are scored too
    default_max_new_tokens: ClassVar[int] = 64

    def mode(self, benchmark: str) -> str:
        return "generate"

    def decoding(self, task: str, max_new_tokens: int | None) -> Decoding:
        """How replies to `task` are decoded; `max_new_tokens` (the user's) overrides the default."""
        return Decoding(max_new_tokens or self.default_max_new_tokens)

    def prompt(self, ex: Example) -> str:
        raise NotImplementedError

    def read(self, ex: Example, reply: str) -> Reading:
        raise NotImplementedError

    def options(self, ex: Example) -> list[str]:
        raise NotImplementedError(f"protocol {self.name} has no likelihood mode")

    def read_options(self, ex: Example, sums: Sequence[float], counts: Sequence[int]) -> Reading:
        raise NotImplementedError(f"protocol {self.name} has no likelihood mode")


def first_letter_among(reply: str, letters: str | Sequence[str]) -> str | None:
    """The first character of `reply` that is one of `letters` (no word boundaries asked for)."""
    wanted = set(letters)
    return next((c for c in reply if c in wanted), None)


def _free_form(ex: Example, reply: str) -> Reading:
    got = normalize_free(reply) or None
    return Reading(got, 1.0 if is_correct(ex.item, got) else 0.0)


class PaperProtocol(BenchProtocol):
    name = "paper"
    default_max_new_tokens = int(PAPER_SAMPLING["max_new_tokens"])

    def decoding(self, task: str, max_new_tokens: int | None) -> Decoding:
        s = PAPER_SAMPLING
        return Decoding(max_new_tokens or int(s["max_new_tokens"]), temperature=s["temperature"],
                        top_p=s["top_p"], top_k=int(s["top_k"]), seed=PAPER_SEED)

    def prompt(self, ex: Example) -> str:
        it = ex.item
        if it.benchmark == "bbh":
            return str(ex.raw["input"])  # the dataset's question, with its options where it lists them
        return it.question()

    def read(self, ex: Example, reply: str) -> Reading:
        it = ex.item
        if not it.is_choice:
            return _free_form(ex, reply)
        if it.task in BBH_BINARY_TASKS:
            initials = {opt[:1].upper(): letter for letter, opt in zip(it.letters, it.options, strict=True)}
            got = first_letter_among(reply, "".join(initials))
            pick = initials[got] if got else None
            return Reading(it.options[it.letters.index(pick)] if pick else None, 1.0 if pick == it.target else 0.0,
                           {"letter": got})
        got = first_letter_among(reply, it.letters)
        return Reading(got, 1.0 if got == it.target else 0.0)


class AgievalProtocol(BenchProtocol):
    name = "agieval"

    def prompt(self, ex: Example) -> str:
        it = ex.item
        if not it.is_choice:
            return f"Q: {it.stem}\nA: The answer is"
        if it.benchmark == "agieval":
            return agieval_zero_shot(ex.raw)
        options = " ".join(f"({letter}){text}" for letter, text in zip(it.letters, it.options, strict=True))
        return f"Q: {it.stem} Answer Choices: {options}\nA: Among A through {it.letters[-1]}, the answer is"

    def read(self, ex: Example, reply: str) -> Reading:
        it = ex.item
        if not it.is_choice:
            return _free_form(ex, reply)
        letters = AGIEVAL_LETTERS if it.benchmark == "agieval" else "".join(it.letters)
        got = first_letter_among(reply, letters)
        return Reading(got, 1.0 if got == it.target else 0.0)


def agieval_zero_shot(row: Mapping[str, Any]) -> str:
    """AGIEval's zero-shot prompt for an English multiple-choice row: the passage runs straight into
    "Q:", the options are joined by spaces as the file writes them, and the last letter is the one of
    the option count (five when a row has a single option, as AGIEval's own code does)."""
    options = list(row["options"])
    count = len(options) if len(options) != 1 else 5
    return (f"{row.get('passage') or ''}Q: {row['question']} Answer Choices: {' '.join(options)}\n"
            f"A: Among A through {'ABCDEFG'[count - 1]}, the answer is")


class LionProtocol(BenchProtocol):
    name = "lion"

    def prompt(self, ex: Example) -> str:
        return ex.item.prompt("generate")

    def read(self, ex: Example, reply: str) -> Reading:
        got = extract_answer(ex.item, reply)
        return Reading(got, 1.0 if is_correct(ex.item, got) else 0.0)
