"""BBH and AGIEval as lion asks them: one zero-shot prompt per example, no chain of thought.

Every multiple-choice item is posed with lettered options, so the paper's answer rule (the first
capital letter of the reply that names an offered option, see bench_answers.py) applies to all of
them. BBH's six two-label tasks have no letters upstream: their labels become "(A) … (B) …" here, in
the order the input lists them, or a fixed order for the three tasks whose input lists none.
The four free-form BBH tasks (only with --all-tasks) are scored by exact match.

Pure: the caller reads the JSON files and hands their parsed content in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# The 17 BBH tasks whose targets are already letters, with an "Options:" list in the input.
BBH_LETTER_TASKS: tuple[str, ...] = (
    "date_understanding", "disambiguation_qa", "geometric_shapes", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects", "logical_deduction_three_objects",
    "movie_recommendation", "penguins_in_a_table", "reasoning_about_colored_objects", "ruin_names",
    "salient_translation_error_detection", "snarks", "temporal_sequences",
    "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
)
# The six closed two-label tasks, with the label order used when the input lists no options.
BBH_BINARY_TASKS: dict[str, tuple[str, str]] = {
    "boolean_expressions": ("True", "False"),
    "causal_judgement": ("Yes", "No"),
    "formal_fallacies": ("valid", "invalid"),
    "navigate": ("Yes", "No"),
    "sports_understanding": ("yes", "no"),
    "web_of_lies": ("Yes", "No"),
}
BBH_FREE_TASKS: tuple[str, ...] = ("dyck_languages", "multistep_arithmetic_two", "object_counting", "word_sorting")
BBH_LION_TASKS: tuple[str, ...] = tuple(sorted((*BBH_LETTER_TASKS, *BBH_BINARY_TASKS)))
BBH_ALL_TASKS: tuple[str, ...] = tuple(sorted((*BBH_LION_TASKS, *BBH_FREE_TASKS)))
AGIEVAL_TASKS: tuple[str, ...] = ("aqua-rat", "logiqa-en", "lsat-ar", "lsat-lr", "lsat-rc", "sat-math", "sat-en",
                                  "sat-en-without-passage")

# What the model is told after the question; the loglik variant asks for the option's text,
# because that text is what gets scored.
ASK_LETTER = "Answer with the letter of the correct option."
ASK_TEXT = "Answer with the text of the correct option."
ASK_FREE = "Give only the final answer, with no explanation."

_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s?(.*)$")
_LETTER_TARGET = re.compile(r"^\(([A-Z])\)$")


class BenchDataError(ValueError):
    """A benchmark file whose content is not what the task expects (names task and example)."""


@dataclass(frozen=True, slots=True)
class BenchItem:
    """One example, ready to prompt. `letters` is empty for a free-form item."""

    benchmark: str
    task: str
    idx: int
    stem: str                      # question text up to (not including) the options
    letters: tuple[str, ...]
    options: tuple[str, ...]       # option texts, aligned with `letters`
    target: str                    # the right letter, or the expected text of a free-form item
    skip: str = ""                 # why the item is not scored ("" = scored)

    @property
    def is_choice(self) -> bool:
        return bool(self.letters)

    def question(self) -> str:
        """The stem followed by the lettered options."""
        if not self.is_choice:
            return self.stem
        lines = [f"({letter}) {text}" for letter, text in zip(self.letters, self.options, strict=True)]
        return f"{self.stem}\nOptions:\n" + "\n".join(lines)

    def prompt(self, mode: str = "generate") -> str:
        """The whole user message: question, options, and how to answer."""
        ask = ASK_FREE if not self.is_choice else ASK_TEXT if mode == "loglik" else ASK_LETTER
        return f"{self.question()}\n\n{ask}"


def _split_options(task: str, idx: int, text: str) -> tuple[str, list[str]]:
    """(stem, option lines) of an input holding a final 'Options:' block."""
    head, sep, tail = text.rpartition("\nOptions:\n")
    if not sep:
        raise BenchDataError(f"bbh/{task}.json example {idx}: expected an 'Options:' list in the input")
    return head, [ln for ln in tail.split("\n") if ln.strip()]


def _bbh_letter_item(task: str, idx: int, text: str, target: str) -> BenchItem:
    stem, lines = _split_options(task, idx, text)
    letters, options = [], []
    for ln in lines:
        m = _OPTION_LINE.match(ln.strip())
        if not m:
            raise BenchDataError(f"bbh/{task}.json example {idx}: option line {ln!r} is not '(X) text'")
        letters.append(m.group(1))
        options.append(m.group(2).strip())
    m = _LETTER_TARGET.match(target.strip())
    skip = ""
    if not m or m.group(1) not in letters:
        # Upstream errors (data README): a target given as text because its option was split at a
        # comma. No letter is right, so the item cannot be scored; it is counted as skipped.
        skip, letter = "bad_target", ""
    else:
        letter = m.group(1)
    return BenchItem("bbh", task, idx, stem, tuple(letters), tuple(options), letter, skip)


def _bbh_binary_item(task: str, idx: int, text: str, target: str) -> BenchItem:
    if "\nOptions:\n" in text:
        stem, lines = _split_options(task, idx, text)
        labels = [ln.strip().removeprefix("-").strip() for ln in lines]
    else:
        stem, labels = text, list(BBH_BINARY_TASKS[task])
    if len(labels) != 2:
        raise BenchDataError(f"bbh/{task}.json example {idx}: expected two labels, found {labels}")
    letters = ("A", "B")
    match = [i for i, lab in enumerate(labels) if lab.lower() == target.strip().lower()]
    if len(match) != 1:
        raise BenchDataError(f"bbh/{task}.json example {idx}: target {target!r} is not one of {labels}")
    return BenchItem("bbh", task, idx, stem, letters, tuple(labels), letters[match[0]])


def bbh_items(task: str, data: dict[str, Any]) -> list[BenchItem]:
    """Items of one BBH task file (`{"examples": [{"input", "target"}]}`)."""
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list):
        raise BenchDataError(f"bbh/{task}.json: expected an object with an 'examples' list")
    items = []
    for idx, ex in enumerate(examples):
        if not isinstance(ex, dict) or not isinstance(ex.get("input"), str) or not isinstance(ex.get("target"), str):
            raise BenchDataError(f"bbh/{task}.json example {idx}: expected string fields 'input' and 'target'")
        text, target = ex["input"], ex["target"]
        if task in BBH_BINARY_TASKS:
            items.append(_bbh_binary_item(task, idx, text, target))
        elif task in BBH_FREE_TASKS:
            items.append(BenchItem("bbh", task, idx, text, (), (), target.strip()))
        elif task in BBH_LETTER_TASKS:
            items.append(_bbh_letter_item(task, idx, text, target))
        else:
            raise BenchDataError(f"unknown BBH task {task!r}; known: {', '.join(BBH_ALL_TASKS)}")
    return items


def agieval_items(task: str, rows: list[dict[str, Any]]) -> list[BenchItem]:
    """Items of one AGIEval English multiple-choice file: passage (when set) + question + options."""
    items = []
    for idx, row in enumerate(rows):
        where = f"agieval/{task}.jsonl line {idx + 1}"
        opts = row.get("options")
        if not isinstance(row.get("question"), str) or not isinstance(opts, list) or not opts:
            raise BenchDataError(f"{where}: expected 'question' (string) and 'options' (non-empty list)")
        letters, options = [], []
        for k, raw in enumerate(opts):
            m = _OPTION_LINE.match(str(raw).strip())
            # Options carry their letter with no space ("(A)5(√3 + 1)"); a missing prefix gets the
            # letter of its position.
            letters.append(m.group(1) if m else LETTERS[k])
            options.append((m.group(2) if m else str(raw)).strip())
        label = str(row.get("label") or "").strip()
        if label not in letters:
            raise BenchDataError(f"{where}: label {label!r} is not one of the options' letters {letters}")
        passage = (row.get("passage") or "").strip()
        question = f"Question: {row['question'].strip()}"
        stem = f"{passage}\n\n{question}" if passage else question
        items.append(BenchItem("agieval", task, idx, stem, tuple(letters), tuple(options), label))
    return items
