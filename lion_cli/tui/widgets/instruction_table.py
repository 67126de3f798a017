"""The row tables whose rows are instructions: enter opens the highlighted one (the footer says so).

Row keys end with the instruction id ("new 12", "gap 3", "found 7"): the app's one RowSelected
handler opens any of them."""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.widgets import DataTable


class InstructionTable(DataTable[str]):
    BINDINGS = [Binding("enter", "select_cursor", "open", show=True, key_display="enter")]

    def __init__(self, *columns: str, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.add_columns(*columns)

    def show_rows(self, rows: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Replace the rows (key, cells) unless the keys are the same: the cursor stays where the
        user left it while the store has nothing new."""
        if [k for k, _ in rows] == [str(r.key.value) for r in self.rows.values()]:
            return
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)


def instruction_id(row_key: object) -> int | None:
    """The instruction id at the end of a row key, or None."""
    last = str(row_key or "").rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else None
