"""CSV and TSV seed files with a header row (pure: text in, items or a located error out).

The header names the columns: `instruction` (required), `input` and `output` (optional), matched
without regard to case; any other column is ignored. `--seed-columns instruction=question,input=context`
names other columns. Quoted fields may span lines; an error names the line the row starts on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

from lion_cli.core.seed_records import FIELDS, PROGRESS_EVERY, RecordProblem, SeedError, item_from_record
from lion_cli.core.types import SeedItem


def _column_positions(header: list[str], columns: dict[str, str], where: str) -> dict[str, int]:
    """Where each of lion's fields is in a row (instruction always; input and output when present)."""
    by_name = {name.strip().lower(): i for i, name in reversed(list(enumerate(header)))}
    positions: dict[str, int] = {}
    for field in FIELDS:
        column = columns.get(field, field)
        if column.strip().lower() in by_name:
            positions[field] = by_name[column.strip().lower()]
        elif field in columns:
            raise SeedError(f"{where}:1: no column '{column}' in the header (named by --seed-columns "
                            f"{field}={column}; the header has: {', '.join(header)})")
    if "instruction" not in positions:
        raise SeedError(f"{where}:1: expected a header row with an 'instruction' column (the header has: "
                        f"{', '.join(header)}); --seed-columns instruction=COLUMN names another column")
    return positions


def _rows(text: str, delimiter: str, where: str) -> Iterator[tuple[int, list[str]]]:
    """(the line a row starts on, its fields), header included."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SeedError(f"{where}:{start}: not valid {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}") from None


def parse_table(text: str, where: str, delimiter: str, columns: dict[str, str] | None = None,
                progress: Callable[[int], None] | None = None) -> list[SeedItem]:
    rows = _rows(text, delimiter, where)
    header = next((row for _, row in rows if any(cell.strip() for cell in row)), None)
    if header is None:
        return []
    positions = _column_positions(header, columns or {}, where)
    items: list[SeedItem] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise SeedError(f"{where}:{line}: expected {len(header)} fields as in the header, got {len(row)}")
        try:
            items.append(item_from_record({f: row[i] for f, i in positions.items()}, "alpaca"))
        except RecordProblem as exc:
            raise SeedError(f"{where}:{line}: {exc}") from None
        if progress is not None and len(items) % PROGRESS_EVERY == 0:
            progress(len(items))
    return items
