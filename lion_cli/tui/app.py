"""The live dashboard: a Textual app over a project's store.

A timer starts a thread worker that reads the store (queries.py) and posts the snapshot as a
message, so the UI thread never waits on SQLite; the handler sets the app's `snapshot` reactive,
which every part of the main screen is bound to (widgets/view.py). The look is in lion.tcss. The
app only reads: it cannot run or change the loop, except to stop a run it was given
(`lion run --tui`)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import DataTable, Footer, TabbedContent, TabPane
from textual.worker import get_current_worker

from lion_cli.core.totals import RunPlan
from lion_cli.tui.queries import DB_NAME, DashboardReader
from lion_cli.tui.screens import DetailScreen, QuitRunScreen, SearchScreen
from lion_cli.tui.snapshot import Snapshot
from lion_cli.tui.widgets.api_panel import ApiPanel
from lion_cli.tui.widgets.header import HeaderBar, StageStrip
from lion_cli.tui.widgets.panels import EvaluationPanel, EventLog, GenerationPanel
from lion_cli.tui.widgets.plots import DiscriminationPanel, TrainingPanel

PANELS = (("api", "1 API"), ("training", "2 Training"), ("discrimination", "3 Discrimination"),
          ("generation", "4 Generation"), ("evaluation", "5 Evaluation"), ("log", "6 Log"))
PANEL_WIDGETS: dict[str, type[Widget]] = {
    "api": ApiPanel, "training": TrainingPanel, "discrimination": DiscriminationPanel,
    "generation": GenerationPanel, "evaluation": EvaluationPanel, "log": EventLog}
STOP_GRACE_S = 30.0


class LionDashboard(App[str | None]):
    """`LionDashboard(project_dir).run()`; the result is 'stop' / 'leave' when quitting asked about
    a run process, else None."""

    TITLE = "lion"
    CSS_PATH = "lion.tcss"
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("tab", "next_panel", "panels (1-6)", priority=True),
        Binding("shift+tab", "next_panel(-1)", "previous panel", priority=True, show=False),
        *[Binding(str(k + 1), f"panel('{pid}')", title.split()[1].lower(), show=False)
          for k, (pid, title) in enumerate(PANELS)],
        Binding("slash", "search", "search"),
        Binding("r", "refresh_now", "refresh"),
    ]

    # The latest read of the store (None until the first one ends), and the error of the latest
    # read if it failed; the header and panels are bound to them (data_bind in compose).
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)
    read_error: var[str | None] = var(None, init=False)

    class SnapshotReady(Message):
        def __init__(self, snapshot: Snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

    class ReadFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, project_dir: Path, *, run_process: subprocess.Popen[bytes] | None = None,
                 clock: Callable[[], float] = time.time, refresh_s: float | None = 1.0,
                 plan: RunPlan | None = None) -> None:
        super().__init__()
        self.project_dir = Path(project_dir)
        self.run_process = run_process
        self.refresh_s = refresh_s
        self.reader = DashboardReader(self.project_dir, clock=clock, plan=plan)
        self.refreshes = 0     # snapshots shown so far (tests wait on it)
        self.read_errors: list[str] = []   # failed reads, newest last (the header shows the latest)

    def compose(self) -> ComposeResult:
        # The first read catches up on the whole history (about 0.5 s on a paper-sized store); say so.
        header = HeaderBar(f"lion {self.project_dir.name} │ reading {self.project_dir / DB_NAME} …", id="header")
        yield header.data_bind(LionDashboard.snapshot, LionDashboard.read_error)
        yield StageStrip(id="stages").data_bind(LionDashboard.snapshot)
        with TabbedContent(id="panels"):
            for panel_id, title in PANELS:
                with TabPane(title, id=panel_id):
                    yield PANEL_WIDGETS[panel_id](id=f"{panel_id}-panel").data_bind(LionDashboard.snapshot)
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"lion · {self.project_dir.name}"
        self.read_store()
        if self.refresh_s:
            self.set_interval(self.refresh_s, self.read_store)

    def on_unmount(self) -> None:
        with self.reader.lock:  # a read in flight finishes first
            self.reader.close()

    # --- refresh: timer → worker thread → message → reactive → bound widgets ------------------------

    @work(thread=True, exclusive=True, group="store-read", exit_on_error=False)
    def read_store(self) -> None:
        """One read of the store, off the UI thread. A newer request cancels one that has not begun
        reading, and a tick that finds a read (or a search) holding the reader waits for the next
        tick rather than a thread each. A read that did run always posts its snapshot, even if it
        was cancelled meanwhile: the reader hands each new event once, and the log must not lose it."""
        if get_current_worker().is_cancelled or self.reader.lock.locked():
            return
        try:
            snap = self.reader.refresh()
        except Exception as exc:  # shown in the header; the next tick tries again
            self.post_message(self.ReadFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.SnapshotReady(snap))

    @on(SnapshotReady)
    def show_snapshot(self, message: SnapshotReady) -> None:
        self.read_error = None
        self.snapshot = message.snapshot   # the bound widgets redraw before this returns
        self.refreshes += 1

    @on(ReadFailed)
    def show_read_error(self, message: ReadFailed) -> None:
        self.read_errors = [*self.read_errors[-99:], message.error]
        self.read_error = message.error

    # --- keys -------------------------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        self.read_store()

    def action_panel(self, panel_id: str) -> None:
        if self.screen is self.screen_stack[0]:
            self.screen.query_one(TabbedContent).active = panel_id

    def action_next_panel(self, step: int = 1) -> None:
        if self.screen is not self.screen_stack[0]:  # on a pushed screen, tab moves focus as usual
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()
            return
        ids = [p for p, _ in PANELS]
        tabs = self.query_one(TabbedContent)
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)] if tabs.active in ids else ids[0]

    @on(TabbedContent.TabActivated, pane="#generation")
    def focus_latest_instructions(self) -> None:
        self.query_one("#gen-latest", DataTable).focus()  # enter opens the highlighted row

    def action_search(self) -> None:
        self.push_screen(SearchScreen(self.reader))

    @on(DataTable.RowSelected, "#gen-latest, #search-results")
    def open_selected_row(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value or "")   # "new 12", "hard 3", "found 7": the id comes last
        if key.rsplit(" ", 1)[-1].isdigit():
            self.open_instruction(int(key.rsplit(" ", 1)[-1]))

    def open_instruction(self, instruction_id: int) -> None:
        detail = self.reader.instruction(instruction_id)
        if detail is None:
            self.notify(f"instruction {instruction_id} is not in the store", severity="warning")
            return
        self.push_screen(DetailScreen(detail))

    async def action_quit(self) -> None:
        if self.run_process is not None and self.run_process.poll() is None:
            self.push_screen(QuitRunScreen(), callback=self._quit_answer)
            return
        self.exit(None)

    def _quit_answer(self, answer: str | None) -> None:
        if answer is not None:
            self.exit(answer)


def stop_run(proc: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> int | None:
    """SIGINT (the run saves and exits as after Ctrl+C); SIGTERM if it is still there after
    `grace_s`. Returns the exit code, or None if it would not stop."""
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 10.0)):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()


def run_dashboard(project_dir: Path, run_process: subprocess.Popen[bytes] | None = None,
                  plan: RunPlan | None = None) -> str | None:
    """Show the dashboard until the user quits. With a run process (`lion run --tui`), quitting
    asks whether to stop it (then waits for it to save and exit) or leave it running."""
    answer = LionDashboard(project_dir, run_process=run_process, plan=plan).run()
    if run_process is not None:
        if answer == "stop":
            print(f"stopping the run (pid {run_process.pid})…", file=sys.stderr)
            code = stop_run(run_process)
            print("the run did not stop; it is still running" if code is None else f"run stopped (exit {code})",
                  file=sys.stderr)
        elif run_process.poll() is None:
            print(f"the run goes on (pid {run_process.pid}); `lion tui {project_dir}` watches it again",
                  file=sys.stderr)
    return answer


def export_screenshot(project_dir: Path, path_svg: Path, size: tuple[int, int] = (140, 45),
                      panel: str = "api", plan: RunPlan | None = None) -> Path:
    """Render the dashboard on a project headlessly (one refresh) and save it as an SVG."""

    async def shoot() -> str:
        app = LionDashboard(Path(project_dir), refresh_s=None, plan=plan)
        async with app.run_test(size=size) as pilot:
            while app.refreshes < 1:
                await pilot.pause(0.02)
            app.action_panel(panel)
            await pilot.pause()
            return app.export_screenshot(title=f"lion · {Path(project_dir).name}")

    svg = asyncio.run(shoot())
    Path(path_svg).write_text(svg, encoding="utf-8")
    return Path(path_svg)
