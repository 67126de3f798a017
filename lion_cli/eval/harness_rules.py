"""The `harness` protocol: lm-evaluation-harness's BBH zero-shot and AGIEval tasks, item for item.

BBH (generate): the prompt is the task's description, then "Q: <input>\\nA:", sent as plain text (no
chat template, as the harness's HF backend sends it); greedy, up to 256 new tokens (the backend's
default), cut at the task's stop sequences. The prediction is the task's "flexible-extract" filter
applied to the reply (the harness's BBH group reports that filter), scored by the task's exact match
(case, a final period, commas, newlines, backslashes and quotes ignored); "strict-match" (the whole
reply) is kept beside it. Items with a bad upstream target are scored too, as the harness does.

AGIEval (loglik): the prompt is AGIEval's zero-shot prompt (the "query" of the harness's datasets),
each option (" " + the option as the file writes it) is scored by its summed log-probability, and the
pick is the highest sum ("acc"); "acc_norm" divides by the option's length in characters.

The task descriptions, stop sequences, filter settings and metric options are read from the task
files of the installed lm-evaluation-harness (the `harness` extra), so they are the harness's own;
the filters and the metric are lion's code, checked against the harness's in the test suite.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lion_cli.eval.protocols import BenchProtocol, Decoding, Example, Reading, agieval_zero_shot

HARNESS_MAX_NEW_TOKENS = 256  # the HF backend's max_gen_toks
INVALID = "[invalid]"         # the harness filters' fallback


class HarnessUnavailable(RuntimeError):
    """lm-evaluation-harness is not installed, or its task files are not where they should be."""


def _tasks_root() -> Path:
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise HarnessUnavailable("--protocol harness reads lm-evaluation-harness's own task files; install it "
                                 "with: pip install 'lion-cli[harness]' (or pip install lm_eval)")
    return Path(next(iter(spec.submodule_search_locations))) / "tasks"


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    # "!function utils.X" names a filter class: keep its name, lion implements each one.
    _Loader.add_constructor("!function", lambda loader, node: str(loader.construct_scalar(node)))
    if not path.is_file():
        raise HarnessUnavailable(f"{path}: missing from the installed lm-evaluation-harness")
    return dict(yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {})


@functools.cache
def bbh_task_config(task: str) -> dict[str, Any]:
    """The harness's zero-shot config of one BBH task, its template's keys merged under it."""
    folder = _tasks_root() / "bbh" / "zeroshot"
    own = _yaml(folder / f"{task}.yaml")
    merged = {**_yaml(folder / str(own.get("include", "_zeroshot_template_yaml"))), **own}
    if merged.get("doc_to_text") != "Q: {{input}}\nA:":
        raise HarnessUnavailable(f"bbh/zeroshot/{task}.yaml: a prompt template lion does not know "
                                 f"({merged.get('doc_to_text')!r}); this lm-evaluation-harness version differs")
    return merged


def bbh_prompt(task: str, text: str) -> str:
    return f"{bbh_task_config(task).get('description', '')}Q: {text}\nA:"


def bbh_stops(task: str) -> tuple[str, ...]:
    return tuple(bbh_task_config(task)["generation_kwargs"]["until"])


def _find(regex: re.Pattern[str], text: str, group_select: int = 0) -> str | None:
    """The harness's pick among findall results: the selected match (its first non-empty group),
    stripped; None when nothing matched."""
    found = regex.findall(text)
    if not found:
        return None
    match = found[group_select]
    if isinstance(match, tuple):
        match = next((m for m in match if m), None)
        if match is None:
            return None
    return str(match).strip()


class _Ignores:
    def __init__(self, step: Mapping[str, Any]) -> None:
        self.case = bool(step.get("ignore_case"))
        self.punct = bool(step.get("ignore_punctuation"))
        self.regexes = list(step.get("regexes_to_ignore") or [])

    def __call__(self, text: str) -> str:
        for pattern in self.regexes:
            text = re.sub(pattern, "", text)
        if self.case:
            text = text.lower()
        if self.punct:  # every Unicode punctuation character (category P*)
            text = "".join(c for c in text if not _is_punct(c))
        return text


def _is_punct(c: str) -> bool:
    import unicodedata

    return unicodedata.category(c).startswith("P")


def _multi_choice(step: Mapping[str, Any], question: str, reply: str) -> str:
    """The letter "(X)" in the reply; else an option's text (longest first) in it; else ": X"."""
    got = _find(re.compile(step["regex_pattern"]), reply, step.get("group_select", 0))
    if got:
        return got
    ignores = _Ignores(step)
    texts = [ignores(m.strip()) for m in re.findall(r"\([A-Z]\)([^\n^(]*)", question)]
    to_letter = {t: f"({chr(ord('A') + i)})" for i, t in enumerate(texts)}
    by_text = re.compile("|".join(sorted((re.escape(t) for t in texts), key=len, reverse=True)))
    got = _find(by_text, ignores(reply))
    if got:
        return to_letter.get(got, got)
    letters = "|".join(chr(ord("A") + i) for i in range(len(texts)))
    got = _find(re.compile(rf":[\s]*({letters})"), reply)
    return f"({got})" if got else INVALID


def _map_regex(step: Mapping[str, Any], reply: str) -> str:
    ignores = _Ignores(step)
    table = {re.compile(p): v for p, v in step["regex_pattern_to_value"].items()}
    whole = _find(re.compile("|".join(step["regex_pattern_to_value"])), ignores(reply), step.get("group_select", 0))
    if whole:
        for regex, value in table.items():
            if _find(regex, ignores(whole)):
                return str(value)
    return INVALID


def _number(step: Mapping[str, Any], reply: str) -> str:
    got = _find(re.compile(step["regex_pattern"]), reply, step.get("group_select", 0))
    if not got:
        from word2number import w2n  # the harness's own number words, installed with it

        words = _find(_NUMBER_WORDS, reply.lower())
        got = str(w2n.word_to_num(words)) if words else None
    return got or INVALID


# The harness's pattern for numbers written in words. It is written with branch-reset groups, none
# of which captures, so plain groups behave the same; the suffix sets differ by position exactly as
# there (e.g. a lone "six" is only recognised after another number word).
_UNITS = ("zero|one|two|three|four|five|(?:twen|thir|for|fif|six|seven|nine){tens}|eight{eights}|ten|eleven|"
          "twelve|fourteen|hundred|thousand|(?:m|b|tr)illion")
_HEAD = _UNITS.format(tens="(?:teen|ty)", eights="(?:|een|y)")
_BODY = _UNITS.format(tens="(?:|teen|ty)", eights="(?:een|y)")
_TAIL = _UNITS.format(tens="(?:teen|ty)", eights="(?:een|y)")
_NUMBER_WORDS = re.compile(f"((?:(?:{_HEAD})(?:{_BODY}|[^\\S\r\n]|,|and|&)+)?(?:{_TAIL}))")


def _word_sort(question: str, reply: str) -> str:
    """The listed words in the order of their LAST appearance in the reply, each once."""
    words = question.split("List:")[1].strip().split()
    found = re.findall("|".join(rf"\b{w}\b" for w in words), reply)
    order: dict[str, None] = {}
    for w in reversed(found):
        order.setdefault(w, None)
    return " ".join(reversed(order))


def flexible_extract(task: str, question: str, reply: str) -> str:
    """The task's "flexible-extract" filter chain applied to one reply."""
    chain = next(f["filter"] for f in bbh_task_config(task)["filter_list"] if f["name"] == "flexible-extract")
    out = reply
    for step in chain:
        fn = step["function"]
        if fn == "take_first":
            continue
        if fn == "regex":
            got = _find(re.compile(step["regex_pattern"]), out, step.get("group_select", 0))
            out = INVALID if got is None else got
        elif fn == "utils.MultiChoiceRegexFilter":
            out = _multi_choice(step, question, out)
        elif fn == "utils.MapRegexFilter":
            out = _map_regex(step, out)
        elif fn == "utils.NumberParseRegexFilter":
            out = _number(step, out)
        elif fn == "utils.WordSortFilter":
            out = _word_sort(question, out)
        else:
            raise HarnessUnavailable(f"bbh/zeroshot/{task}.yaml: filter {fn!r} is one lion does not implement")
    return out


def exact_match(task: str, prediction: str, target: str) -> float:
    """The task's exact_match: both sides through the same ignores, then compared."""
    metric = next(m for m in bbh_task_config(task)["metric_list"] if m["metric"] == "exact_match")
    pred, ref = prediction, target
    for pattern in metric.get("regexes_to_ignore") or []:
        pred, ref = re.sub(pattern, "", pred), re.sub(pattern, "", ref)
    if metric.get("ignore_case"):
        pred, ref = pred.lower(), ref.lower()
    if metric.get("ignore_punctuation"):
        table = str.maketrans("", "", string.punctuation)
        pred, ref = pred.translate(table), ref.translate(table)
    return 1.0 if pred == ref else 0.0


class HarnessProtocol(BenchProtocol):
    name = "harness"
    raw_prompt = True
    scores_skipped = True
    default_max_new_tokens = HARNESS_MAX_NEW_TOKENS

    def mode(self, benchmark: str) -> str:
        return "generate" if benchmark == "bbh" else "loglik"

    def decoding(self, task: str, max_new_tokens: int | None) -> Decoding:
        return Decoding(max_new_tokens or HARNESS_MAX_NEW_TOKENS, stop=bbh_stops(task))

    def prompt(self, ex: Example) -> str:
        if ex.item.benchmark == "bbh":
            return bbh_prompt(ex.item.task, str(ex.raw["input"]))
        return agieval_zero_shot(ex.raw)

    def read(self, ex: Example, reply: str) -> Reading:
        task, question, target = ex.item.task, str(ex.raw["input"]), str(ex.raw["target"])
        flexible = flexible_extract(task, question, reply)
        return Reading(flexible, exact_match(task, flexible, target),
                       {"strict-match": exact_match(task, reply, target)})

    def options(self, ex: Example) -> list[str]:
        return [str(o) for o in ex.raw["options"]]

    def read_options(self, ex: Example, sums: Sequence[float], counts: Sequence[int]) -> Reading:
        options = self.options(ex)
        gold = ex.item.letters.index(ex.item.target)
        pick = _argmax(sums)
        pick_norm = _argmax([s / len(o) for s, o in zip(sums, options, strict=True)])
        return Reading(ex.item.letters[pick], 1.0 if pick == gold else 0.0,
                       {"acc_norm": 1.0 if pick_norm == gold else 0.0, "logprob_sums": list(sums)})


def _argmax(values: Sequence[float]) -> int:
    """The first index of the largest value (numpy's argmax, which the harness uses)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))
