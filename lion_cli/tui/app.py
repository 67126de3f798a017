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
from textual.events import Resize
from textual.message import Message
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import DataTable, Footer, TabbedContent, TabPane
from textual.worker import get_current_worker

from lion_cli.core.totals import RunPlan
from lion_cli.tui.queries import DB_NAME, DashboardReader
from lion_cli.tui.screens import DetailScreen, KeysScreen, QuitRunScreen, SearchScreen
from lion_cli.tui.snapshot import Snapshot, TrainView
from lion_cli.tui.widgets.api_panel import ApiPanel
from lion_cli.tui.widgets.discrimination import DiscriminationPanel
from lion_cli.tui.widgets.header import HeaderBar, StageStrip
from lion_cli.tui.widgets.instruction_table import InstructionTable, instruction_id
from lion_cli.tui.widgets.panels import EvaluationPanel, EventLog, GenerationPanel
from lion_cli.tui.widgets.plots import TrainingPanel

PANELS = (("api", "1 API"), ("training", "2 Training"), ("discrimination", "3 Discrimination"),
          ("generation", "4 Generation"), ("evaluation", "5 Evaluation"), ("log", "6 Log"))
PANEL_WIDGETS: dict[str, type[Widget]] = {
    "api": ApiPanel, "training": TrainingPanel, "discrimination": DiscriminationPanel,
    "generation": GenerationPanel, "evaluation": EvaluationPanel, "log": EventLog}
PANEL_TABLES = {"training": "#train-jobs", "discrimination": "#disc-hardest", "generation": "#gen-latest"}
STOP_GRACE_S = 30.0


class LionDashboard(App[str | None]):
    """`LionDashboard(project_dir).run()`; the result is 'stop' / 'leave' when quitting asked about
    a run process, else None."""

    TITLE = "lion"
    CSS_PATH = "lion.tcss"
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("tab", "next_panel", "panels", priority=True),
        Binding("shift+tab", "next_panel(-1)", "previous panel", priority=True, show=False),
        *[Binding(str(k + 1), f"panel('{pid}')", title.split()[1].lower(), show=False)
          for k, (pid, title) in enumerate(PANELS)],
        # A focused instruction table takes enter first (InstructionTable); this one opens the
        # highlighted row of the panel shown when the focus is elsewhere.
        Binding("enter", "open_highlighted", "open", key_display="enter"),
        Binding("slash", "search", "search", key_display="/"),
        Binding("question_mark", "keys", "keys", key_display="?"),
        Binding("r", "refresh_now", "refresh", show=False),   # `?` lists it
    ]
    NARROW_WIDTH = 100   # below: the app has the -narrow class (lion.tcss gives panel 3's table more room)
    SHORT_HEIGHT = 30    # below: -short (panel 3's plots take turns, the stage strip loses its rule)

    # The latest read of the store (None until the first one ends), and the error of the latest
    # read if it failed; the header and panels are bound to them (data_bind in compose).
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)
    read_error: var[str | None] = var(None, init=False)

    class TrainingJobRead(Message):
        def __init__(self, view: TrainView | None) -> None:
            super().__init__()
            self.view = view

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
        self.fit_classes(self.size.width, self.size.height)
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

    def on_resize(self, event: Resize) -> None:
        self.fit_classes(event.size.width, event.size.height)

    def fit_classes(self, width: int, height: int) -> None:
        self.set_class(width < self.NARROW_WIDTH, "-narrow")
        self.set_class(height < self.SHORT_HEIGHT, "-short")

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

    @on(TabbedContent.TabActivated)
    def focus_panel_table(self, event: TabbedContent.TabActivated) -> None:
        table = PANEL_TABLES.get(event.pane.id or "")
        if table is not None:   # arrows move in it at once, and enter opens its highlighted row
            self.query_one(table, DataTable).focus()

    def action_search(self) -> None:
        self.push_screen(SearchScreen(self.reader))

    def action_keys(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self.BINDINGS
                if isinstance(b, Binding) and not b.key.isdigit() and b.key != "enter"]   # enter: KEY_NOTES
        self.push_screen(KeysScreen([("1-6", "show panel 1 API … 6 Log"), *keys]))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_highlighted":   # the main screen's panels only (a pushed screen has its own keys)
            return self.screen is self.screen_stack[0]
        return True

    def action_open_highlighted(self) -> None:
        table_id = PANEL_TABLES.get(str(self.query_one(TabbedContent).active))
        table = None if table_id is None else self.query_one(table_id, DataTable)
        if table is None or not isinstance(table, InstructionTable) or table.row_count == 0:
            self.notify("nothing to open here: panels 3 and 4 and the search (/) list instructions")
            return
        table.action_select_cursor()

    @on(DataTable.RowSelected, "#gen-latest, #search-results, #disc-hardest")
    def open_selected_row(self, event: DataTable.RowSelected) -> None:
        iid = instruction_id(event.row_key.value)   # "new 12", "gap 3", "found 7": the id comes last
        if iid is not None:
            self.open_instruction(iid)

    @on(DataTable.RowHighlighted, "#train-jobs")
    def pick_training_job(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value or "")
        if key.startswith("job "):
            self.load_training_job(int(key.removeprefix("job ")))

    @work(thread=True, exclusive=True, group="training-job", exit_on_error=False)
    def load_training_job(self, job_id: int) -> None:
        """A picked job's whole curve, read off the UI thread; a newer pick replaces it."""
        view = self.reader.training_job(job_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.TrainingJobRead(view))

    @on(TrainingJobRead)
    def show_training_job(self, message: TrainingJobRead) -> None:
        self.query_one(TrainingPanel).picked = message.view

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's Screenshot: into the project folder (Textual's default, ~/Downloads, is often
        missing, and then the save fails), named after the panel shown."""
        if filename is None:
            panel = self.query_one(TabbedContent).active or "dashboard"
            filename = f"lion-{panel}-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        return super().deliver_screenshot(filename, path or str(self.project_dir.resolve()), time_format)

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
