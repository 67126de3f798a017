"""Panel 3: the referee's verdicts. The latest iteration's gap histogram (τ drawn over the bars),
hard rate and mean gap per iteration, the per-iteration table, a warning when the referee's labels
should not be trusted (referee_trust.py), and the hardest instructions by gap (enter opens one with
both referee replies)."""

from __future__ import annotations

import math

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import Label, Static
from textual_plotext import PlotextPlot

from lion_cli.tui.referee_trust import referee_warnings
from lion_cli.tui.snapshot import LabelCounts, Snapshot
from lion_cli.tui.widgets.columns import Column, dropped_note, fitted_table
from lion_cli.tui.widgets.format import one_line, pct, ratio
from lion_cli.tui.widgets.instruction_table import InstructionTable
from lion_cli.tui.widgets.view import SnapshotView

GAP_BIN = 0.5   # the reader's histogram bin width (queries.GAP_BIN)
LABEL_COLUMNS = (Column("iter", 0), Column("hard", 1, "right"), Column("easy", 2, "right"),
                 Column("hard rate", 3, "right"), Column("order", 4, "right"), Column("mean gap", 5, "right"),
                 Column("unscored", 6, "right"), Column("parsed", 7, "right"))


def even_bins(hist: list[tuple[float, int]], tau: float | None) -> tuple[list[float], list[int]]:
    """Every bin from the lowest to the highest gap (and τ), empty ones included, so bars are evenly
    spaced and the x axis reads as a number line."""
    counts = {round(b / GAP_BIN): n for b, n in hist}
    lo, hi = min(counts), max(counts)
    if tau is not None:
        lo, hi = min(lo, round(tau / GAP_BIN)), max(hi, round(tau / GAP_BIN))
    keys = range(lo, hi + 1)
    return [k * GAP_BIN for k in keys], [counts.get(k, 0) for k in keys]


def count_ticks(top: int, most: int = 5) -> list[float]:
    """Whole-number ticks from 0 to at least `top`, at most `most` of them: a count has no fractions."""
    step = max(1, math.ceil(top / (most - 1)))
    return [float(t) for t in range(0, max(top, 1) + step, step)]


def label_row(lc: LabelCounts) -> list[Text | str]:
    return [f"it{lc.iteration}", f"{lc.hard:,}", f"{lc.easy:,}", pct(lc.hard_rate), ratio(lc.order_consistency),
            ratio(lc.mean_gap, 2), f"{lc.unscored:,}", pct(lc.parse_rate, 0)]


class DiscriminationPanel(SnapshotView, Horizontal):
    # On a short terminal the two plots take turns (p); on a tall one both are shown.
    BINDINGS = [Binding("p", "other_plot", "other plot")]

    def compose(self) -> ComposeResult:
        with Vertical(id="disc-plots"):
            yield PlotextPlot(id="gap-plot")
            yield PlotextPlot(id="trend-plot")
        with Vertical(id="disc-side"):
            yield Static(id="disc-warning")
            yield Static(id="disc-facts")
            yield Label("hardest by gap (enter: both replies)", id="disc-hardest-title")
            yield InstructionTable("gap", "scores", "instruction", id="disc-hardest")
            yield Static(id="disc-note")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "other_plot":
            return self.app.has_class("-short")
        return True

    def action_other_plot(self) -> None:
        self.toggle_class("-trend")

    def on_resize(self, event: Resize) -> None:
        if self.snapshot is not None:   # the table's columns depend on the width
            self.show(self.snapshot)

    def show(self, snap: Snapshot) -> None:
        self.draw_histogram(snap)
        self.draw_trend(snap)
        warnings = [f"⚠ it{c.iteration} referee: {w}" for c in snap.labels[-1:] for w in referee_warnings(c)]
        warning = self.query_one("#disc-warning", Static)
        warning.display = bool(warnings)
        warning.update(Text("\n".join(warnings), style="bold red"))
        facts = self.query_one("#disc-facts", Static)
        width = facts.content_region.width or self.app.size.width // 2
        table, dropped = fitted_table(LABEL_COLUMNS, [label_row(lc) for lc in snap.labels], width)
        facts.update(Group(table, *dropped_note(dropped)) if snap.labels else Text("No labels yet.", style="dim"))
        self.query_one("#disc-hardest", InstructionTable).show_rows(
            [(f"gap {x.id}", (f"{x.gap:+.1f}", f"{ratio(x.teacher_score, 1)} / {ratio(x.student_score, 1)}",
                              one_line(x.text, 200))) for x in snap.hardest])
        tau = "?" if snap.tau is None else f"{snap.tau}"
        self.query_one("#disc-note", Static).update(Text(
            f"hard: gap ≥ τ = {tau} · order: order consistency, the share of winners kept when the answers"
            " swap places · parsed: referee replies with readable scores", style="dim"))

    def draw_histogram(self, snap: Snapshot) -> None:
        plot = _cleared(self.query_one("#gap-plot", PlotextPlot))
        plt = plot.plt
        if snap.histogram:
            xs, ys = even_bins(snap.histogram, snap.tau)
            plt.bar(xs, ys, width=0.6)
            whole = [float(x) for x in range(math.ceil(xs[0]), math.floor(xs[-1]) + 1)]
            plt.xticks(whole or xs)
            top = max(ys)
            plt.yticks(count_ticks(top))
            if snap.tau is not None:   # a series after the bars, so it is drawn over them (a vline is under)
                plt.plot([snap.tau, snap.tau], [0, count_ticks(top)[-1]], color="red", marker="│")
            plt.title(f"gap = teacher − student, it{snap.histogram_iteration} (τ = {snap.tau} in red)")
        else:
            plt.title("gap histogram (no labels yet)")
        plt.xlabel("gap")
        plot.refresh()

    def draw_trend(self, snap: Snapshot) -> None:
        plot = _cleared(self.query_one("#trend-plot", PlotextPlot))
        plt = plot.plt
        its = [lc.iteration for lc in snap.labels]
        rates = [(lc.iteration, 100 * lc.hard_rate) for lc in snap.labels if lc.hard_rate is not None]
        gaps = [(lc.iteration, lc.mean_gap) for lc in snap.labels if lc.mean_gap is not None]
        if rates:
            plt.plot([i for i, _ in rates], [r for _, r in rates], marker="●", color="red", label="hard rate %")
        if gaps:
            plt.plot([i for i, _ in gaps], [g for _, g in gaps], marker="◆", color="blue", label="mean gap",
                     yside="right")
        if its:
            plt.xticks([float(i) for i in its], [f"it{i}" for i in its])
            plt.title("hard rate (%, left) and mean gap (right) per iteration")
        else:
            plt.title("per iteration (no labels yet)")
        plot.refresh()


def _cleared(plot: PlotextPlot) -> PlotextPlot:
    """The plot with its data and figure settings gone: each snapshot draws it from scratch."""
    plot.plt.clear_data()
    plot.plt.clear_figure()
    return plot
