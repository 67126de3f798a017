"""Running BBH / AGIEval against a model: items → prompts → one batched call → per-task scores.

The model is reached through a callable, so the same orchestration runs the real student engine
(eval/student_backend.py) and the fake table-driven models of the tests:
- generate mode: `replies(rows) -> {id: reply text}` with rows {id, instruction}
- loglik mode:   `option_scores(rows) -> {id: (log-prob sums, token counts)}` with rows {id, instruction, options}
All tasks go into ONE call, so the engine batches across tasks and loads the model once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lion_cli.core.bench_answers import TaskResult, score_generated, score_loglik
from lion_cli.core.bench_tasks import AGIEVAL_TASKS, BBH_ALL_TASKS, BBH_FREE_TASKS, BBH_LION_TASKS, BenchItem
from lion_cli.eval.data import load_items

Replies = Callable[[list[dict[str, Any]]], Mapping[str, str]]
OptionScores = Callable[[list[dict[str, Any]]], Mapping[str, tuple[Sequence[float], Sequence[int]]]]
BENCHMARKS = ("bbh", "agieval")
MODES = ("generate", "loglik")


class EvalInputError(ValueError):
    """A bad task name, mode or limit; the message says what is accepted."""


def select_tasks(benchmark: str, tasks: Sequence[str] | None = None, *, all_tasks: bool = False,
                 mode: str = "generate") -> list[str]:
    """The tasks to run: the named ones (validated), else the paper's set (BBH: 23; all 27 with
    all_tasks). Loglik mode needs options, so the free-form BBH tasks are left out of it."""
    if benchmark not in BENCHMARKS:
        raise EvalInputError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")
    if mode not in MODES:
        raise EvalInputError(f"--mode: expected generate or loglik, got {mode!r}")
    known = BBH_ALL_TASKS if benchmark == "bbh" else AGIEVAL_TASKS
    if tasks:
        bad = [t for t in tasks if t not in known]
        if bad:
            raise EvalInputError(f"--tasks: unknown {benchmark} task(s) {', '.join(bad)}; known: {', '.join(known)}")
        chosen = list(dict.fromkeys(tasks))
    else:
        chosen = list(BBH_ALL_TASKS if all_tasks else BBH_LION_TASKS) if benchmark == "bbh" else list(AGIEVAL_TASKS)
    if mode == "loglik":
        free = [t for t in chosen if t in BBH_FREE_TASKS]
        if free and tasks:
            raise EvalInputError(f"--mode loglik needs multiple-choice tasks; {', '.join(free)} are free-form")
        chosen = [t for t in chosen if t not in BBH_FREE_TASKS]
    return chosen


def load_task_items(benchmark: str, tasks: Sequence[str], *, limit: int | None = None,
                    data_dir: Path | None = None, **data_kw: Any) -> dict[str, list[BenchItem]]:
    """The first `limit` items of each task (all when None), from verified data files."""
    if limit is not None and limit < 1:
        raise EvalInputError(f"--limit: expected a positive number, got {limit}")
    return {t: load_items(benchmark, t, data_dir, **data_kw)[:limit] for t in tasks}


def row_id(item: BenchItem) -> str:
    return f"{item.task}/{item.idx}"


def run_generate(items: Mapping[str, list[BenchItem]], replies: Replies) -> list[TaskResult]:
    rows = [{"id": row_id(it), "instruction": it.prompt("generate")} for task in items for it in items[task]]
    got = replies(rows)
    missing = [r["id"] for r in rows if r["id"] not in got]
    if missing:
        raise RuntimeError(f"the model returned no reply for {len(missing)} prompts, e.g. {missing[:3]}")
    return [score_generated(its, {it.idx: got[row_id(it)] for it in its}) for its in items.values() if its]


def run_loglik(items: Mapping[str, list[BenchItem]], option_scores: OptionScores) -> list[TaskResult]:
    rows = [{"id": row_id(it), "instruction": it.prompt("loglik"), "options": list(it.options)}
            for task in items for it in items[task]]
    got = option_scores(rows)
    missing = [r["id"] for r in rows if r["id"] not in got]
    if missing:
        raise RuntimeError(f"the model returned no option scores for {len(missing)} prompts, e.g. {missing[:3]}")
    return [score_loglik(its, {it.idx: got[row_id(it)] for it in its}) for its in items.values() if its]


def run_modes(items: Mapping[str, list[BenchItem]], modes: Sequence[str], replies: Replies,
              option_scores: OptionScores) -> list[TaskResult]:
    """Every requested mode over the same items; loglik skips the free-form tasks (no options)."""
    out: list[TaskResult] = []
    if "generate" in modes:
        out += run_generate(items, replies)
    if "loglik" in modes:
        choice = {t: its for t, its in items.items() if its and its[0].is_choice}
        if choice:
            out += run_loglik(choice, option_scores)
    return out
