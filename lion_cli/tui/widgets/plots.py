"""Panel 2: a training job's loss curve beside its facts, and the list of every training job (the
highlighted one is plotted; the newest, followed live, until another is picked)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import DataTable, Label, Static
from textual_plotext import PlotextPlot

from lion_cli.tui.snapshot import Snapshot, TrainView
from lion_cli.tui.widgets.format import count, ratio
from lion_cli.tui.widgets.view import SnapshotView

MAX_PLOT_POINTS = 400


def _thin(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """At most MAX_PLOT_POINTS points (every k-th, keeping the last): a terminal has few columns."""
    k = max(len(points) // MAX_PLOT_POINTS, 1)
    out = points[::k]
    if points and out[-1] != points[-1]:
        out.append(points[-1])
    return out


class TrainingPanel(SnapshotView, Horizontal):
    """The plot beside a column of facts and the job list (widths in lion.tcss). `picked` is the job
    the user highlighted in the list, read whole by the app (LionDashboard.load_training_job); None
    or the newest job means: follow the newest job live."""

    picked: var[TrainView | None] = var(None, init=False)

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="loss-plot")
        with Vertical(id="train-side"):
            yield Static(id="train-facts")
            yield Label("training jobs · ↑↓ picks the curve", id="train-jobs-title")
            jobs: DataTable[str] = DataTable(id="train-jobs", cursor_type="row", zebra_stripes=True)
            jobs.add_columns("job", "iter", "status", "steps")
            yield jobs

    def watch_picked(self) -> None:
        if self.snapshot is not None:
            self.show(self.snapshot)

    def shown_job(self, snap: Snapshot) -> TrainView | None:
        live = snap.train
        if self.picked is None or (live is not None and self.picked.job_id == live.job_id):
            return live
        return self.picked

    def show(self, snap: Snapshot) -> None:
        jobs = self.query_one("#train-jobs", DataTable)
        keys = [f"job {j.job_id}" for j in snap.train_jobs]
        if keys != [str(r.key.value) for r in jobs.rows.values()]:   # else the cursor stays
            jobs.clear()
            for j in snap.train_jobs:
                jobs.add_row(str(j.job_id) if j.kind == "train" else f"{j.job_id} {j.kind}",
                             "-" if j.iteration is None else f"it{j.iteration}", j.status,
                             count(j.total_steps), key=f"job {j.job_id}")
        self.draw(self.shown_job(snap), snap.checkpoint)

    def draw(self, tv: TrainView | None, checkpoint: str | None) -> None:
        facts = self.query_one("#train-facts", Static)
        plot = self.query_one("#loss-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if tv is None:
            plt.title("loss (no training job yet)")
            facts.update(Text("No training job in the store yet.\n\nCheckpoint in use: "
                              + (checkpoint or "the base model"), style="dim"))
            plot.refresh()
            return
        pts = _thin(tv.losses)
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], marker="braille")
        plt.title(f"{'DPO' if tv.kind == 'dpo' else 'training'} loss · job {tv.job_id} (it{tv.iteration})")
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
                     *_preference_facts(tv),
                     *([("held-out KL", ratio(tv.heldout_kl, 4))] if tv.heldout_kl is not None else []),
                     ("output", tv.output_dir), ("in use", checkpoint or "the base model")):
            t.add_row(k, v)
        facts.update(t)


def _preference_facts(tv: TrainView) -> list[tuple[str, str]]:
    """A DPO job's last reward margin (chosen over rejected) and pair accuracy; nothing for SFT."""
    if tv.kind != "dpo":
        return []
    return [("reward margin", ratio(tv.margin, 3)), ("pair accuracy", ratio(tv.accuracy, 2))]
