"""Storing benchmark results and printing them beside the paper's numbers.

Tables are plain text (stdout is for results): one row per task with lion's accuracy per mode,
then the paper's Lion-7B / Lion-13B / ChatGPT columns, then the macro average. Accuracies are
printed in %, as the paper prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lion_cli.core.bench_answers import TaskResult, macro_average
from lion_cli.core.paper_tables import PAPER_COLUMNS, paper_average, paper_row
from lion_cli.eval.targets import EvalTarget
from lion_cli.store.db import Store
from lion_cli.store.evals import EvalRow, EvalSample, save_result

MODE_LABELS = {"generate": "gen (1st letter)", "loglik": "loglik (norm.)", "paper": "paper (1st cap.)",
               "agieval": "agieval (1st A-F)", "harness": "harness"}


def protocol_of(mode: str) -> str:
    """The protocol a stored mode was run under: lion's own modes are "generate" and "loglik"."""
    return "lion" if mode in ("generate", "loglik") else mode


def store_task_results(store: Store, target: EvalTarget, results: Sequence[TaskResult],
                       detail: dict[str, Any] | None = None) -> list[int]:
    """One eval_results row per task (replacing an earlier run of the same model), samples included."""
    ids = []
    for r in results:
        samples = [EvalSample(s.idx, s.prompt, s.reply, s.extracted, s.target, s.correct) for s in r.samples]
        ids.append(save_result(store, model=target.label, iteration=target.iteration, benchmark=r.benchmark,
                               task=r.task, mode=r.mode, n=r.n, correct=r.correct, accuracy=r.accuracy,
                               skipped=r.skipped, detail={**(detail or {}), "path": str(target.path)},
                               samples=samples))
    return ids


def result_dicts(target: EvalTarget, results: Sequence[TaskResult]) -> list[dict[str, Any]]:
    """The --json form: one object per (task, mode), with the paper's numbers where it has them."""
    out = []
    for r in results:
        paper = paper_row(r.benchmark, r.task)
        out.append({"model": target.label, "iteration": target.iteration, "benchmark": r.benchmark,
                    "task": r.task, "protocol": protocol_of(r.mode), "mode": r.mode, "n": r.n,
                    "correct": r.correct, "skipped": r.skipped,
                    "accuracy": r.accuracy,
                    "paper": dict(zip(PAPER_COLUMNS, paper, strict=True)) if paper else None})
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:5.1f}"


def format_table(benchmark: str, label: str, results: Sequence[TaskResult]) -> str:
    """Per-task accuracy for each mode run, beside the paper's columns, then the average row."""
    modes = [m for m in MODE_LABELS if any(r.mode == m for r in results)]
    tasks = list(dict.fromkeys(r.task for r in results))
    by = {(r.task, r.mode): r for r in results}
    width = max([len("average"), *map(len, tasks)])
    head = [f"{'task':<{width}}", f"{'n':>4}", *(f"{MODE_LABELS[m]:>16}" for m in modes),
            *(f"{c:>8}" for c in PAPER_COLUMNS)]
    protocols = ", ".join(dict.fromkeys(protocol_of(m) for m in modes))
    lines = [f"{benchmark.upper()} — {label} (accuracy %, zero-shot, protocol {protocols}; paper columns: the "
             "paper's own run)",
             "  ".join(head)]
    for task in tasks:
        n = max(by[(task, m)].n for m in modes if (task, m) in by)
        skipped = max(by[(task, m)].skipped for m in modes if (task, m) in by)
        cells = [f"{_pct(by[(task, m)].accuracy) if (task, m) in by else '-':>16}" for m in modes]
        paper = paper_row(benchmark, task)
        pcols = [f"{v:8.1f}" for v in paper] if paper else [f"{'-':>8}"] * len(PAPER_COLUMNS)
        note = f"  ({skipped} skipped: bad upstream target)" if skipped else ""
        lines.append("  ".join([f"{task:<{width}}", f"{n:>4}", *cells, *pcols]) + note)
    avgs = [f"{_pct(macro_average([r for r in results if r.mode == m])):>16}" for m in modes]
    pav = paper_average(benchmark)
    pcols = [f"{v:8.1f}" for v in pav] if pav else [f"{'-':>8}"] * len(PAPER_COLUMNS)
    lines.append("  ".join([f"{'average':<{width}}", f"{'':>4}", *avgs, *pcols]))
    if len(tasks) < (23 if benchmark == "bbh" else 8):
        lines.append(f"(a subset: {len(tasks)} tasks; the paper's average is over all of them)")
    return "\n".join(lines)


def learning_curve(rows: Sequence[EvalRow], benchmark: str) -> str:
    """Macro-average per iteration and mode, from stored rows (one line per iteration)."""
    curve: dict[tuple[int, str], list[float]] = {}
    for r in rows:
        # Vicuna stores one row per category and an "overall" row: the curve follows the overall one.
        if r.benchmark == benchmark and r.iteration is not None and (benchmark != "vicuna" or r.task == "overall"):
            curve.setdefault((r.iteration, r.mode), []).append(r.accuracy)
    modes = sorted({m for _, m in curve})
    lines = [f"{benchmark.upper()} learning curve (macro-average %, tasks stored per iteration)",
             "  ".join([f"{'iteration':>9}", *(f"{MODE_LABELS.get(m, m):>16}" for m in modes)])]
    for it in sorted({i for i, _ in curve}):
        cells = []
        for m in modes:
            accs = curve.get((it, m))
            cells.append(f"{_pct(sum(accs) / len(accs)) if accs else '-':>16}")
        lines.append("  ".join([f"{it:>9}", *cells]))
    return "\n".join(lines)
