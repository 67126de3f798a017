"""Panels 4–6: generation (counts and the latest instructions), evaluation beside the paper, log."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.widgets import RichLog, Static

from lion_cli.core.paper_tables import (
    AGIEVAL_PAPER,
    BBH_PAPER,
    PAPER_COLUMNS,
    VICUNA_PAPER,
    paper_average,
    paper_row,
)
from lion_cli.tui.snapshot import EventLine, Snapshot
from lion_cli.tui.widgets.format import one_line, pct
from lion_cli.tui.widgets.instruction_table import InstructionTable
from lion_cli.tui.widgets.view import SnapshotView

BENCHMARKS = (("bbh", "BBH"), ("agieval", "AGIEval"), ("vicuna", "Vicuna-80"))
FULL_TASKS = {"bbh": BBH_PAPER, "agieval": AGIEVAL_PAPER}


class GenerationPanel(SnapshotView, Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(id="gen-counts")
        yield InstructionTable("id", "list", "instruction", id="gen-latest")

    def show(self, snap: Snapshot) -> None:
        t = Table(box=None, header_style="bold", pad_edge=False, expand=True)
        t.add_column("iter")
        t.add_column("outcome")
        t.add_column("count", justify="right")
        for g in snap.generation:
            t.add_row(f"it{g.iteration}", Text("accepted", style="green"), f"{g.accepted:,}")
            for reason, n in g.rejected.items():
                t.add_row("", Text(f"rejected: {reason}", style="yellow"), f"{n:,}")
            t.add_row("", Text("acceptance", style="dim"), pct(g.accepted / g.calls if g.calls else None))
        self.query_one("#gen-counts", Static).update(t if snap.generation else Text("No candidates yet.", style="dim"))
        rows = [(f"new {x.id}", (str(x.id), "new · " + x.note, one_line(x.text, 200))) for x in snap.latest_accepted]
        rows += [(f"hard {x.id}", (str(x.id), "hard · " + x.note, one_line(x.text, 200))) for x in snap.latest_hard]
        self.query_one("#gen-latest", InstructionTable).show_rows(rows)


class EvaluationPanel(SnapshotView, Static):
    def show(self, snap: Snapshot) -> None:
        if not snap.evals:
            self.update(Text("No evaluation results yet (`lion eval` writes them).", style="dim"))
            return
        t = Table(box=None, header_style="bold", pad_edge=False, expand=True)
        t.add_column("model")
        for _, title in BENCHMARKS:
            t.add_column(title, justify="right")
        for row in snap.evals:
            label = f"{row.model} (it{row.iteration})" if row.iteration is not None else row.model
            if row.mode != "generate":
                label += f" · {row.mode}"
            t.add_row(label, *(_cell(row.scores.get(b), b, row.tasks.get(b, ())) for b, _ in BENCHMARKS))
        # The paper's rows are averaged over the tasks the newest row ran, so a partial evaluation
        # (some tasks only) is still compared like with like.
        rows = [r for r in snap.evals if r.mode == "generate"] or snap.evals   # the paper's mode first
        latest = {b: next((r.tasks[b] for r in reversed(rows) if b in r.tasks), ()) for b, _ in BENCHMARKS}
        for k, name in enumerate(PAPER_COLUMNS):
            cells = [Text(_paper_cell(b, latest[b], k, name), style="dim") for b, _ in BENCHMARKS]
            t.add_row(Text(f"paper: {name}", style="dim"), *cells)
        note = Text("\nBBH / AGIEval: mean accuracy over tasks (n/N: tasks run of the benchmark's N), zero-shot, "
                    "answer = first capital letter; Vicuna-80: total judge score relative to ChatGPT's", style="dim")
        self.update(Group(t, note))


def _cell(value: float | None, benchmark: str, tasks: tuple[str, ...]) -> str:
    if value is None:
        return "-"
    if benchmark == "vicuna":
        return f"{value:.2f} %"
    full = len(FULL_TASKS[benchmark])
    return f"{value:.1f}" + ("" if len(tasks) >= full else f" ({len(tasks)}/{full})")


def _paper_cell(benchmark: str, tasks: tuple[str, ...], column: int, name: str) -> str:
    if benchmark == "vicuna":
        value = VICUNA_PAPER.get(name)
        return "-" if value is None else f"{value:.2f} %"
    rows = [r for r in (paper_row(benchmark, task) for task in tasks) if r is not None]
    if not tasks or len(tasks) >= len(FULL_TASKS[benchmark]):
        avg = paper_average(benchmark)
        return "-" if avg is None else f"{avg[column]:.1f}"
    if not rows:
        return "-"
    return f"{sum(r[column] for r in rows) / len(rows):.1f} ({len(rows)}/{len(FULL_TASKS[benchmark])})"


def event_line(e: EventLine) -> Text:
    t = Text(time.strftime("%H:%M:%S", time.localtime(e.ts)) + " ", style="grey50")
    style = {"warning": "yellow", "error": "bold red"}.get(e.level, "")
    t.append(f"{e.level:<7} ", style=style or "cyan")
    where = f"it{e.iteration}" if e.iteration is not None else ""
    if e.stage:
        where += f" {e.stage}"
    if where:
        t.append(f"[{where}] ", style="bold")
    t.append(e.message, style=style)
    return t


class EventLog(SnapshotView, RichLog):
    """The events table's tail. RichLog wraps a line once, when it is written, at a width measured
    on the app's console (80 columns when headless), and the log is usually written while its tab
    is hidden: keep the lines, write them at the pane's own width, and re-wrap them on a resize."""

    def __init__(self, *, id: str | None = None, max_lines: int = 5000) -> None:
        super().__init__(id=id, wrap=True, max_lines=max_lines)
        self._events: deque[Text] = deque(maxlen=max_lines)
        self._wrapped_at = 0

    def show(self, snap: Snapshot) -> None:
        for e in snap.new_events:
            line = event_line(e)
            self._events.append(line)
            self.write(line, width=self._wrapped_at or None)

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self._rewrap)   # after RichLog's own handler has sized itself

    def _rewrap(self) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._wrapped_at:
            self._wrapped_at = width
            self.clear()
            for line in self._events:
                self.write(line, width=width)
