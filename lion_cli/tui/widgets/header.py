"""The two always-visible rows: where the run stands, and a stage strip per iteration."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import var
from textual.widgets import Static

from lion_cli.core.eta import UNMEASURED, RunEta
from lion_cli.tui.referee_trust import referee_warnings
from lion_cli.tui.snapshot import STAGE_NAMES, Snapshot, StageView
from lion_cli.tui.widgets.format import BAR_WIDTH, bar, duration, one_line
from lion_cli.tui.widgets.view import SnapshotView

RUN_STYLES = {"running": "bold green", "done": "bold cyan", "stale": "bold red", "failed": "bold red",
              "interrupted": "bold yellow", "paused": "bold yellow", "never run": "dim"}
STAGE_STYLES = {"done": "green", "running": "yellow", "failed": "bold red", "pending": "grey50",
                "gave up": "bold yellow", "interrupted": "bold yellow", "paused": "bold yellow"}
NOTE_WIDTH = 120   # a failed stage's error, on its own line under the strip; `lion status` prints it whole


def run_label(status: str) -> str:
    return "process gone (killed?)" if status == "stale" else status


def run_eta_text(eta: RunEta | None) -> str:
    """'run ETA 1:02:03', 'run ETA 1:02:03 (rate limits assumed)' or, while a part has no measured
    rate yet, 'run ETA ≥ 0:12:00 (training not measured yet)' (core/eta.py)."""
    if eta is None:
        return "run ETA --:--"
    if not eta.complete:
        untimed = ", ".join(p.name for p in eta.parts if p.work > 0 and p.seconds is None)
        return f"run ETA ≥ {duration(eta.seconds)} ({untimed} {UNMEASURED})"
    return f"run ETA {duration(eta.seconds)}" + (" (rate limits assumed)" if eta.basis == "assumed" else "")


class HeaderBar(SnapshotView, Static):
    """project · iteration i/N · stage + state · run state · elapsed, then the step's, the API work's
    and the whole run's ETA, and the last read error while the store cannot be read (both bound to
    the app's reactives)."""

    read_error: var[str | None] = var(None, init=False)

    def watch_read_error(self) -> None:
        if self.snapshot is not None:   # until the first read, the text given at construction stays
            self.show(self.snapshot)

    def on_resize(self) -> None:
        if self.snapshot is not None:
            self.show(self.snapshot)

    def show(self, snap: Snapshot) -> None:
        t = Text()
        if (self.content_region.width or self.app.size.width) >= NARROW_STRIP:   # the name is in the title too
            t.append("lion ", style="bold magenta")
        t.append(snap.project, style="bold")
        planned = "?" if snap.iterations_planned is None else str(snap.iterations_planned)
        if snap.iteration is not None and snap.iterations_planned is not None \
                and snap.iteration >= snap.iterations_planned:   # the final imitation, after the last iteration
            t.append(f" │ it{snap.iteration} (final, after {planned})")
        elif snap.iteration is not None:
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
        t.append(f"\nelapsed {duration(snap.elapsed_s)} │ step ETA {duration(snap.eta_s)}"
                 f" │ API ETA {duration(snap.api_eta_s)} │ {run_eta_text(snap.run_eta)}")
        untrusted = [c.iteration for c in snap.labels if referee_warnings(c)]
        if untrusted:   # seen from every panel; panel 3 says why
            t.append(f" │ ⚠ referee untrusted in it{untrusted[-1]} (3)", style="bold red")
        if self.read_error:
            t.append(f" │ read error: {self.read_error}", style="bold red")
        self.update(t)


NARROW_STRIP = 110        # below this many columns the strip shortens stage names and bars
SHORT_NAMES = {"imitation": "imit.", "preference": "pref.", "discrimination": "discr.", "generation": "gen."}


def strip_rows(height: int) -> int:
    """Iterations the strip shows one per row: fewer on a short terminal (24 rows: three)."""
    return 3 if height < 30 else 6


class StageStrip(SnapshotView, Static):
    """it0  imitation ████ 100% → discrimination ██░░ 25% referee 6/24 → generation ░░░░ pending, and
    under an iteration with a failed stage, its error. Finished iterations that do not fit the rows
    left are one line ("it0–it4 done")."""

    def on_resize(self) -> None:
        if self.snapshot is not None:
            self.show(self.snapshot)

    def show(self, snap: Snapshot) -> None:
        by_iteration: dict[int, dict[str, StageView]] = {}
        for sv in [*snap.stages, *snap.preference]:
            by_iteration.setdefault(sv.iteration, {})[sv.stage] = sv
        last = max([*by_iteration, (snap.iterations_planned or 0) - 1, -1])
        width = self.content_region.width or self.app.size.width
        t = Text()
        if last < 0:
            t.append("no iteration started yet — `lion run` starts iteration 0", style="dim")
        first = max(last + 1 - strip_rows(self.app.size.height), 0)
        if first:   # the oldest iterations, all finished before the ones shown
            t.append(f"it0–it{first} done" if first > 1 else "it0 done", style="green")
            first += 1
        for it in range(first, last + 1):
            if it or t:
                t.append("\n")
            final = snap.iterations_planned is not None and it >= snap.iterations_planned
            t.append_text(fitted_line(it, by_iteration.get(it, {}), width, final))
        self.update(t)


def fitted_line(it: int, stages: dict[str, StageView], width: int, final: bool = False) -> Text:
    """The iteration's line in the longest form that fits `width` columns: long names and bars, short
    names and bars, then short names without bars (a preference stage and a running stage's counts make
    the long form wider than 120 columns and the short one wider than 80)."""
    forms = [(False, True), (True, True)] if width >= NARROW_STRIP else [(True, True)]
    for narrow, bars in forms:
        line = iteration_line(it, stages, narrow, final, bars)
        if cell_len(line.plain.split("\n")[0]) <= width:
            return line
    return iteration_line(it, stages, True, final, bars=False)


def iteration_line(it: int, stages: dict[str, StageView], narrow: bool, final: bool = False,
                   bars: bool = True) -> Text:
    """`final`: the iteration after the last one planned, which is the final imitation on everything."""
    t = Text(f"it{it:<3}" if not narrow else f"it{it} ", style="bold")
    if final:
        t.append("final ", style="bold")
    names = ("imitation",) if final else STAGE_NAMES
    if "preference" in stages:   # DPO after this iteration's imitation ([preference])
        names = (names[0], "preference", *names[1:])
    for k, name in enumerate(names):
        if k:
            t.append(" → " if narrow else "  →  ", style="grey50")
        v = stages.get(name)
        status = v.status if v else "pending"
        style = STAGE_STYLES.get(status, "")
        t.append(f"{SHORT_NAMES[name] if narrow else name}" + (" " if bars else ""), style=style)
        if bars:
            t.append_text(bar(v.fraction if v else 0.0, width=5 if narrow else BAR_WIDTH, style=style or "green"))
        t.append(stage_words(v), style=style)
    for v in stages.values():
        if v.status == "failed" and v.note:
            t.append(f"\n     {v.stage} failed: {one_line(v.note, NOTE_WIDTH)}", style="red")
    return t


def stage_words(v: StageView | None) -> str:
    """What the strip says after a stage's bar: pending, done, the counts of one that gave up, or how
    far one got (and, stopped, that it was interrupted, paused or failed)."""
    if v is None or v.status == "pending":
        return " pending"
    if v.status == "done":
        return " done"
    if v.status == "gave up":
        return f" {v.brief}"
    if v.status == "running":
        return f" {100 * v.fraction:3.0f}% {v.step} {v.done}/{v.total}"
    return f" {v.status} at {100 * v.fraction:.0f}% {v.step} {v.done}/{v.total}"
