"""The two always-visible rows: where the run stands, and a stage strip per iteration."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import var
from textual.widgets import Static

from lion_cli.tui.snapshot import STAGE_NAMES, Snapshot, StageView
from lion_cli.tui.widgets.format import bar, duration
from lion_cli.tui.widgets.view import SnapshotView

RUN_STYLES = {"running": "bold green", "done": "bold cyan", "stale": "bold red", "failed": "bold red",
              "interrupted": "bold yellow", "paused": "bold yellow", "never run": "dim"}
STAGE_STYLES = {"done": "green", "running": "yellow", "failed": "red", "pending": "grey50"}


def run_label(status: str) -> str:
    return "process gone (killed?)" if status == "stale" else status


class HeaderBar(SnapshotView, Static):
    """project · iteration i/N · stage + state · elapsed · ETA, and the last read error while the
    store cannot be read (both bound to the app's reactives)."""

    read_error: var[str | None] = var(None, init=False)

    def watch_read_error(self) -> None:
        if self.snapshot is not None:   # until the first read, the text given at construction stays
            self.show(self.snapshot)

    def show(self, snap: Snapshot) -> None:
        t = Text()
        t.append("lion ", style="bold magenta")
        t.append(snap.project, style="bold")
        planned = "?" if snap.iterations_planned is None else str(snap.iterations_planned)
        if snap.iteration is not None:
            t.append(f" │ it{snap.iteration} ({snap.iteration + 1}/{planned})")
        if snap.stage is not None:
            st = snap.stage
            t.append(" │ ")
            t.append(st.stage, style="bold")
            if st.step and st.status == "running":
                t.append(f" · {st.step}")
            t.append(f" {st.status}", style=STAGE_STYLES.get(st.status, ""))
        t.append(" │ run: ")
        t.append(run_label(snap.run_status), style=RUN_STYLES.get(snap.run_status, ""))
        t.append(f" │ elapsed {duration(snap.elapsed_s)} │ step ETA {duration(snap.eta_s)}"
                 f" │ API ETA {duration(snap.api_eta_s)}")
        if self.read_error:
            t.append(f" │ read error: {self.read_error}", style="bold red")
        self.update(t)


class StageStrip(SnapshotView, Static):
    """it0  imitation ████ 100% → discrimination ██░░ 25% referee 6/24 → generation ░░░░ pending."""

    def show(self, snap: Snapshot) -> None:
        by_iteration: dict[int, dict[str, StageView]] = {}
        for sv in snap.stages:
            by_iteration.setdefault(sv.iteration, {})[sv.stage] = sv
        last = max([*by_iteration, (snap.iterations_planned or 0) - 1, -1])
        t = Text()
        if last < 0:
            t.append("no iteration started yet — `lion run` starts iteration 0", style="dim")
        for it in range(last + 1):
            if it:
                t.append("\n")
            t.append(f"it{it:<3}", style="bold")
            stages = by_iteration.get(it, {})
            for k, name in enumerate(STAGE_NAMES):
                if k:
                    t.append("  →  ", style="grey50")
                v = stages.get(name)
                status = v.status if v else "pending"
                style = STAGE_STYLES.get(status, "")
                t.append(f"{name} ", style=style)
                t.append_text(bar(v.fraction if v else 0.0, style=style or "green"))
                if v is None or status == "pending":
                    t.append(" pending", style="grey50")
                elif status == "done":
                    t.append(" done", style="green")
                else:
                    t.append(f" {100 * v.fraction:3.0f}% {v.step} {v.done}/{v.total}", style=style)
        self.update(t)
