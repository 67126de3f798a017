"""Screens over the dashboard: one instruction in detail, instruction search, and the quit question
asked when the dashboard watches a run it started."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Static
from textual.worker import get_current_worker

from lion_cli.tui.snapshot import InstructionDetail, InstructionLine
from lion_cli.tui.widgets.format import one_line
from lion_cli.tui.widgets.instruction_table import InstructionTable

if TYPE_CHECKING:
    from lion_cli.tui.queries import DashboardReader


def _score(v: float | None) -> str:
    return "?" if v is None else f"{v:g}"


def origin_words(origin: str, iteration: int) -> str:
    """When the instruction was written and when it joined the pools. The store keeps the second
    (instructions.iteration); the generator writes in iteration i the instructions of i + 1, and the
    dashboard's lists name the iteration that wrote them ("new · easy · it0")."""
    if origin == "seed":
        return f"seed file, in the pools from it{iteration}"
    return f"written in it{iteration - 1}'s generation, in the pools from it{iteration}"


def render_detail(d: InstructionDetail) -> RenderableType:
    """All the store knows about one instruction, texts verbatim (Text objects: no markup parsing)."""
    parts: list[RenderableType] = []
    head = Text(f"instruction #{d.id}", style="bold magenta")
    head.append(f"   origin {d.origin} · {origin_words(d.origin, d.iteration)}", style="")
    if d.parent_id is not None:
        head.append(f" · written from #{d.parent_id}")
    parts += [head, Panel(Text(d.text), title="instruction", title_align="left")]
    if d.input:
        parts.append(Panel(Text(d.input), title="input", title_align="left"))
    for r in d.responses:
        title = f"{r.role} answer · {r.model} · it{r.iteration}" + (f" · {r.finish_reason}" if r.finish_reason else "")
        parts.append(Panel(Text(r.text), title=title, title_align="left",
                           border_style="green" if r.role == "teacher" else "blue"))
    if not d.responses:
        parts.append(Text("no answers yet", style="dim"))
    for j in d.judgements:
        verdict = (f"teacher {_score(j.teacher_score)} · student {_score(j.student_score)}" if j.parse_error is None
                   else f"unreadable: {j.parse_error}")
        title = f"referee · it{j.iteration} · {j.order.replace('_', ' ')} · attempt {j.attempt} · {verdict}"
        parts.append(Panel(Text(j.raw_text), title=title, title_align="left", border_style="yellow"))
    if not d.judgements:
        parts.append(Text("no referee replies yet", style="dim"))
    for lab in d.labels:
        flip = {None: "-", 0: "no", 1: "yes"}.get(lab["order_flip"], "-")
        parts.append(Text(f"it{lab['iteration']}: {lab['label']}  teacher {_score(lab['teacher_score'])}  "
                          f"student {_score(lab['student_score'])}  gap {_score(lab['gap'])}  order flip {flip}",
                          style="bold red" if lab["label"] == "hard" else "bold"))
    return Group(*parts)


class DetailScreen(Screen[None]):
    BINDINGS = [("escape", "app.pop_screen", "back")]

    def __init__(self, detail: InstructionDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(render_detail(self.detail), id="detail-body")
        yield Footer()


class SearchScreen(ModalScreen[None]):
    """`/`: instructions whose text contains a string (SQL LIKE, newest first, limited)."""

    BINDINGS = [("escape", "app.pop_screen", "close")]

    def __init__(self, reader: DashboardReader, limit: int = 50) -> None:
        super().__init__()
        self.reader, self.limit = reader, limit

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(placeholder="search instructions (enter to search, esc to close)", id="search-input")
            yield InstructionTable("id", "origin", "instruction", id="search-results")
            yield Label("", id="search-status")
        yield Footer()

    @on(Input.Submitted, "#search-input")
    def search_for_input(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._search(event.value.strip())

    @work(thread=True, exclusive=True)
    def _search(self, text: str) -> None:
        found = self.reader.search(text, self.limit)
        if not get_current_worker().is_cancelled:   # a newer search has replaced this one
            self.app.call_from_thread(self._show, text, found)

    def _show(self, text: str, found: list[InstructionLine]) -> None:
        table = self.query_one(InstructionTable)
        table.show_rows([(f"found {x.id}", (str(x.id), x.note, one_line(x.text, 300))) for x in found])
        more = " (limit reached)" if len(found) >= self.limit else ""
        self.query_one("#search-status", Label).update(f"{len(found)} matches for {text!r}{more}")
        if found:
            table.focus()


class QuitRunScreen(ModalScreen[str | None]):
    """Quitting while the run started with the dashboard is still going: stop it or leave it."""

    BINDINGS = [("escape", "dismiss_none", "cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("The run is still going. Stop it (everything finished so far is kept; "
                         "`lion resume` goes on) or leave it running in the background?", id="quit-question")
            with Horizontal():
                yield Button("Stop the run", id="stop", variant="error")
                yield Button("Leave it running", id="leave", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#stop, #leave")
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    @on(Button.Pressed, "#cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)


# What `?` lists beside the bindings Textual knows of: the keys that belong to a table or a screen.
KEY_NOTES = (("enter", "open the highlighted instruction: its answers and both referee replies (panels 3, 4,"
              " search)"),
             ("↑ ↓ / pgup pgdn", "move in a table; in panel 2 the highlighted job's loss curve is plotted"),
             ("esc", "back from an instruction, the search or this list"),
             ("p", "panel 3 on a short terminal: the gap histogram or the per-iteration plot"),
             ("ctrl+p", "the command palette: screenshot (an SVG in the project folder), theme, quit"))


class KeysScreen(ModalScreen[None]):
    """`?`: every key of the dashboard, in one list."""

    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "close", key_display="esc")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in [*self.keys, *KEY_NOTES]:
            table.add_row(key, what)
        with VerticalScroll(id="keys"):
            yield Static(Text("keys", style="bold magenta"))
            yield Static(table, id="keys-table")
        yield Footer()
