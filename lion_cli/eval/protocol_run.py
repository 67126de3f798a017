"""Running BBH / AGIEval under a protocol (eval/protocols.py) against a model reached by callables:
- `generate(rows, decoding, raw) -> {id: reply}` with rows {id, prompt}: `raw` sends the prompt as
  text, otherwise it is the instruction in the student's layout;
- `score(rows, raw) -> {id: (log-prob sums, token counts)}` with rows {id, prompt, options}.
Rows that share a decoding go in one call, so the engine loads the model once per setting.

A result's mode is the protocol's name ("paper", "agieval", "harness"): it is stored, shown and
printed under it, so numbers of different protocols never replace or pass for each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lion_cli.core.bench_answers import SampleResult, TaskResult
from lion_cli.core.bench_tasks import agieval_items, bbh_items
from lion_cli.eval.data import load_examples
from lion_cli.eval.harness_rules import HarnessProtocol
from lion_cli.eval.protocols import (
    PROTOCOLS,
    AgievalProtocol,
    BenchProtocol,
    Decoding,
    Example,
    LionProtocol,
    PaperProtocol,
)

Generate = Callable[[list[dict[str, Any]], Decoding, bool], Mapping[str, str]]
Score = Callable[[list[dict[str, Any]], bool], Mapping[str, tuple[Sequence[float], Sequence[int]]]]


def get_protocol(name: str) -> BenchProtocol:
    table: dict[str, type[BenchProtocol]] = {"paper": PaperProtocol, "agieval": AgievalProtocol,
                                             "harness": HarnessProtocol, "lion": LionProtocol}
    if name not in table:
        raise ValueError(f"--protocol: expected one of {', '.join(PROTOCOLS)}, got {name!r}")
    return table[name]()


def examples_of(benchmark: str, task: str, rows: list[dict[str, Any]]) -> list[Example]:
    """A task's items as lion parses them, each beside its row from the data file."""
    items = bbh_items(task, {"examples": rows}) if benchmark == "bbh" else agieval_items(task, rows)
    return [Example(item, row) for item, row in zip(items, rows, strict=True)]


def load_task_examples(benchmark: str, tasks: Sequence[str], *, limit: int | None = None,
                       data_dir: Path | None = None) -> dict[str, list[Example]]:
    return {t: examples_of(benchmark, t, load_examples(benchmark, t, data_dir))[:limit] for t in tasks}


def _row_id(ex: Example) -> str:
    return f"{ex.item.task}/{ex.item.idx}"


def _generated_replies(examples: Mapping[str, list[Example]], protocol: BenchProtocol, generate: Generate,
                       max_new_tokens: int | None) -> dict[str, str]:
    by_decoding: dict[Decoding, list[dict[str, Any]]] = {}
    for task, exs in examples.items():
        rows = by_decoding.setdefault(protocol.decoding(task, max_new_tokens), [])
        rows += [{"id": _row_id(ex), "prompt": protocol.prompt(ex)} for ex in exs]
    replies: dict[str, str] = {}
    for decoding, rows in by_decoding.items():
        got = generate(rows, decoding, protocol.raw_prompt)
        missing = [r["id"] for r in rows if r["id"] not in got]
        if missing:
            raise RuntimeError(f"the model returned no reply for {len(missing)} prompts, e.g. {missing[:3]}")
        replies.update({r["id"]: got[r["id"]] for r in rows})
    return replies


def _task_result(benchmark: str, task: str, protocol: BenchProtocol, exs: list[Example],
                 read: Callable[[Example], tuple[str, Any]]) -> TaskResult:
    res = TaskResult(benchmark, task, protocol.name)
    for ex in exs:
        reply, reading = read(ex)
        skipped = bool(ex.item.skip) and not protocol.scores_skipped
        target = str(ex.raw["target"]) if protocol.scores_skipped and benchmark == "bbh" else ex.item.target
        if skipped:
            res.skipped += 1
        else:
            res.n += 1
            res.correct += reading.score
        res.samples.append(SampleResult(ex.item.idx, protocol.prompt(ex), reply, reading.prediction, target,
                                        None if skipped else reading.score))
    return res


def run_protocol(benchmark: str, examples: Mapping[str, list[Example]], protocol: BenchProtocol, *,
                 generate: Generate, score: Score, max_new_tokens: int | None = None) -> list[TaskResult]:
    """Every task's result under `protocol`, in the order of `examples`."""
    examples = {t: exs for t, exs in examples.items() if exs}
    if protocol.mode(benchmark) == "generate":
        replies = _generated_replies(examples, protocol, generate, max_new_tokens)
        return [_task_result(benchmark, task, protocol, exs,
                             lambda ex: (replies[_row_id(ex)], protocol.read(ex, replies[_row_id(ex)])))
                for task, exs in examples.items()]
    rows = [{"id": _row_id(ex), "prompt": protocol.prompt(ex), "options": protocol.options(ex)}
            for exs in examples.values() for ex in exs]
    got = score(rows, protocol.raw_prompt)
    missing = [r["id"] for r in rows if r["id"] not in got]
    if missing:
        raise RuntimeError(f"the model returned no option scores for {len(missing)} prompts, e.g. {missing[:3]}")

    def read(ex: Example) -> tuple[str, Any]:
        sums, counts = got[_row_id(ex)]
        reading = protocol.read_options(ex, sums, counts)
        sums_text = ", ".join(f"{letter}={s:.4f}" for letter, s in zip(ex.item.letters, sums, strict=True))
        return f"[log-prob sums: {sums_text}]", reading

    return [_task_result(benchmark, task, protocol, exs, read) for task, exs in examples.items()]
