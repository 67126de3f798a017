"""Tables that fit their width by dropping whole columns, least important first, so a number is
never cut to "$0.0…": what is shown is shown in full, and the dropped columns are named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

Cell = Text | str
COLUMN_GAP = 2   # cells between two columns (Rich's padding of one on each side)


@dataclass(frozen=True)
class Column:
    header: str
    priority: int                       # 0 is dropped last
    justify: Literal["left", "right"] = "left"


def _width(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((cell_len(line) for line in text.split("\n")), default=0)


def kept_columns(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> list[int]:
    """Indexes of the columns to show (in table order), taken most important first, each one whose
    widest cell still fits in what the ones before it left (the first column is always kept)."""
    widths = [max([_width(c.header), *(_width(r[k]) for r in rows)]) for k, c in enumerate(columns)]
    kept: list[int] = []
    used = 0
    for k in sorted(range(len(columns)), key=lambda k: columns[k].priority):
        need = widths[k] + (COLUMN_GAP if kept else 0)
        if kept and used + need > width:
            continue
        kept.append(k)
        used += need
    return sorted(kept)


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> tuple[Table, list[str]]:
    """The table with the columns that fit in `width` cells, and the headers of those dropped."""
    kept = kept_columns(columns, rows, width)
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for k in kept:
        table.add_column(columns[k].header, no_wrap=True, justify=columns[k].justify)
    for row in rows:
        table.add_row(*(row[k] for k in kept))
    return table, [c.header for k, c in enumerate(columns) if k not in kept]


def dropped_note(dropped: list[str]) -> list[Text]:
    """'(wider: retries, cached)' under a table that left columns out; nothing under one that did not."""
    return [Text(f"(wider: {', '.join(dropped)})", style="dim")] if dropped else []
