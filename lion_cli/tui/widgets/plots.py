"""Panels 2 and 3: the training loss curve and the discrimination gap histogram (plotext plots)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static
from textual_plotext import PlotextPlot

from lion_cli.tui.snapshot import Snapshot
from lion_cli.tui.widgets.format import count, pct, ratio
from lion_cli.tui.widgets.view import SnapshotView

MAX_PLOT_POINTS = 400
GAP_BIN = 0.5   # the reader's histogram bin width (queries.GAP_BIN)


def _thin(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """At most MAX_PLOT_POINTS points (every k-th, keeping the last): a terminal has few columns."""
    k = max(len(points) // MAX_PLOT_POINTS, 1)
    out = points[::k]
    if points and out[-1] != points[-1]:
        out.append(points[-1])
    return out


def _even_bins(hist: list[tuple[float, int]], tau: float | None) -> tuple[list[float], list[int]]:
    """Every bin from the lowest to the highest gap (and τ), empty ones included, so bars are evenly
    spaced and the x axis reads as a number line."""
    counts = {round(b / GAP_BIN): n for b, n in hist}
    lo, hi = min(counts), max(counts)
    if tau is not None:
        lo, hi = min(lo, round(tau / GAP_BIN)), max(hi, round(tau / GAP_BIN))
    keys = range(lo, hi + 1)
    return [k * GAP_BIN for k in keys], [counts.get(k, 0) for k in keys]


class PlotPanel(SnapshotView, Horizontal):
    """A plotext plot beside a column of facts (widths in lion.tcss)."""

    PLOT_ID = FACTS_ID = ""

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id=self.PLOT_ID)
        yield Static(id=self.FACTS_ID)

    def cleared_plot(self) -> PlotextPlot:
        """The plot with its data and figure settings gone: each snapshot draws it from scratch."""
        plot = self.query_one(f"#{self.PLOT_ID}", PlotextPlot)
        plot.plt.clear_data()
        plot.plt.clear_figure()
        return plot

    def facts(self) -> Static:
        return self.query_one(f"#{self.FACTS_ID}", Static)


class TrainingPanel(PlotPanel):
    PLOT_ID, FACTS_ID = "loss-plot", "train-facts"

    def show(self, snap: Snapshot) -> None:
        facts = self.facts()
        tv = snap.train
        plot = self.cleared_plot()
        plt = plot.plt
        if tv is None:
            plt.title("loss (no training job yet)")
            facts.update(Text("No training job in the store yet.\n\nCheckpoint in use: "
                              + (snap.checkpoint or "the base model"), style="dim"))
            plot.refresh()
            return
        pts = _thin(tv.losses)
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], marker="braille")
        plt.title(f"training loss · job {tv.job_id} (it{tv.iteration})")
        plt.xlabel("step")
        plot.refresh()
        t = Table(box=None, show_header=False, pad_edge=False)
        t.add_column(style="bold")
        t.add_column()
        for k, v in (("job", f"{tv.job_id} ({tv.status})"), ("iteration", f"it{tv.iteration}"),
                     ("step", f"{tv.step:,} / {count(tv.total_steps)}"),
                     ("epoch", ratio(tv.epoch, 2)), ("loss", ratio(tv.loss, 4)),
                     ("lr", "-" if tv.lr is None else f"{tv.lr:.2e}"),
                     ("tokens/s", "-" if tv.tokens_per_s is None else f"{tv.tokens_per_s:,.0f}"),
                     ("output", tv.output_dir), ("in use", snap.checkpoint or "the base model")):
            t.add_row(k, v)
        facts.update(t)


class DiscriminationPanel(PlotPanel):
    PLOT_ID, FACTS_ID = "gap-plot", "disc-facts"

    def show(self, snap: Snapshot) -> None:
        plot = self.cleared_plot()
        plt = plot.plt
        if snap.histogram:
            xs, ys = _even_bins(snap.histogram, snap.tau)
            plt.bar(xs, ys, width=0.6)
            if snap.tau is not None:
                plt.vline(snap.tau, "red")
            plt.title(f"gap = teacher − student, it{snap.histogram_iteration} (τ = {snap.tau} in red)")
        else:
            plt.title("gap histogram (no labels yet)")
        plt.xlabel("gap")
        plot.refresh()
        t = Table(box=None, header_style="bold", pad_edge=False, expand=True)
        for col in ("iter", "hard", "easy", "unscored", "hard rate", "order consistency", "mean gap"):
            t.add_column(col, no_wrap=True)
        for lc in snap.labels:
            t.add_row(f"it{lc.iteration}", f"{lc.hard:,}", f"{lc.easy:,}", f"{lc.unscored:,}", pct(lc.hard_rate),
                      ratio(lc.order_consistency), ratio(lc.mean_gap, 2))
        tau = "?" if snap.tau is None else f"{snap.tau}"
        note = Text(f"hard if gap ≥ τ = {tau}; order consistency = 1 − mean(order flip) over scored items",
                    style="dim")
        self.facts().update(
            Group(t, Text(""), note) if snap.labels else Group(Text("No labels yet.", style="dim"), note))
