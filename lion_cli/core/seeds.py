"""Parse seed instruction files (pure: text in, items or a located error out).

Text formats: a JSON array or JSONL of records (Alpaca, Self-Instruct seed tasks, ShareGPT, OpenAI
`messages`: core/seed_records.py), CSV/TSV with a header (core/seed_table.py), and plain text with
one instruction per line. Parquet files, dataset folders and hub datasets are read into records at the
edge (lion_cli/seeds_io/) and parsed here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lion_cli.core.seed_records import SeedError, items_from_records
from lion_cli.core.seed_table import parse_table
from lion_cli.core.types import SeedItem, content_hashes

__all__ = ["SeedError", "SeedParse", "decode_seed_bytes", "detect_format", "first_by_content", "parse_seed_bytes",
           "parse_seed_text", "seed_parse"]

Progress = Callable[[int], None]
SNIFF_BYTES = 4096  # how much of a file detect_format sees before the whole is decoded
_INT_DIGITS_MAX = 4000  # under sys.get_int_max_str_digits()'s default 4,300, sign and all


@dataclass(frozen=True)
class SeedParse:
    items: list[SeedItem]
    duplicates: int
    fmt: str
    hashes: list[str] = field(default_factory=list)  # each item's content_hash, worked out once


def _json_int(digits: str) -> int | float:
    """A JSON integer; one too long for int() (Python refuses over 4,300 digits) as a float: such a number
    can only sit in a field lion does not read, and must not stop the file (nor end in a traceback)."""
    return int(digits) if len(digits) <= _INT_DIGITS_MAX else float(digits)


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_json_int)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _shape_name(shape: str, container: str) -> str:
    """The format as reported: the container for Alpaca records, the record shape otherwise."""
    return container if shape == "alpaca" else shape


def _parse_json_array(text: str, where: str, columns: dict[str, str], progress: Progress | None
                      ) -> tuple[list[SeedItem], str]:
    try:
        data = _loads(text)
    except RecursionError:
        raise SeedError(f"{where}:1: invalid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            return _parse_jsonl(text, where, columns, progress)  # JSON Lines saved under a .json name
        raise SeedError(f"{where}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise SeedError(f"{where}:1: expected a JSON array of objects, got {type(data).__name__}")

    def locate(index: int) -> str:
        starts = _element_lines(text)
        return f"{where}:{starts[index] if index < len(starts) else 1}"

    items, shape = items_from_records(data, locate, columns=columns, progress=progress)
    return items, _shape_name(shape, "json")


def _element_lines(text: str) -> list[int]:
    """The line on which each element of the top-level array starts (any kind of value: a string
    or number element must not shift the lines of the objects after it). Only an error needs it."""
    lines: list[int] = []
    depth, in_str, esc, expect_value, line = 0, False, False, False, 1
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch.isspace():
            continue
        if depth == 1 and expect_value and ch not in ",]":
            lines.append(line)
            expect_value = False
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth == 1:
                expect_value = True
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 1:
            expect_value = True
    return lines


def _parse_jsonl(text: str, where: str, columns: dict[str, str], progress: Progress | None
                 ) -> tuple[list[SeedItem], str]:
    numbered: list[int] = []

    def records() -> Iterable[Any]:
        # records end at "\n" only: str.splitlines() would also cut a record at a U+2028 inside a string
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = _loads(line)
            except RecursionError:
                raise SeedError(f"{where}:{n}: invalid JSON: nested too deeply") from None
            except json.JSONDecodeError as exc:
                raise SeedError(f"{where}:{n}: invalid JSON: {exc.msg}") from None
            numbered.append(n)
            yield obj

    items, shape = items_from_records(records(), lambda i: f"{where}:{numbered[i]}", columns=columns,
                                      progress=progress)
    return items, _shape_name(shape, "jsonl")


def _parse_text(text: str) -> list[SeedItem]:
    return [SeedItem(line.strip()) for line in text.splitlines() if line.strip()]


def detect_format(text: str, filename: str) -> str:
    """json (an array), jsonl, csv, tsv or text. The extension decides when it is one of these (a .txt
    line may well start with '['); otherwise the first character does."""
    name = filename.lower()
    for suffix, fmt in ((".txt", "text"), (".jsonl", "jsonl"), (".json", "json"), (".csv", "csv"),
                        (".tsv", "tsv"), (".tab", "tsv")):
        if name.endswith(suffix):
            return fmt
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    return "text"


def seed_parse(raw: Sequence[SeedItem], where: str, fmt: str) -> SeedParse:
    """Exact duplicates (same instruction and input) dropped, the first one kept; none at all is an error."""
    if not raw:
        raise SeedError(f"{where}:1: no instructions found")
    unique = first_by_content(content_hashes(raw), raw)
    return SeedParse(list(unique.values()), len(raw) - len(unique), fmt, list(unique))


def first_by_content(hashes: Sequence[str], items: Sequence[SeedItem]) -> dict[str, SeedItem]:
    """Each content hash with the first item that has it, in the order they first appear. One dict()
    call when there is no repeat (the usual seed file); otherwise item by item."""
    unique = dict(zip(hashes, items, strict=True))
    if len(unique) < len(items):  # a repeat: dict() kept the last item in the first one's place
        unique = {}
        for h, item in zip(hashes, items, strict=True):
            unique.setdefault(h, item)
    return unique


def parse_seed_text(text: str, where: str, columns: dict[str, str] | None = None,
                    progress: Progress | None = None) -> SeedParse:
    """Parse a seed file's text (`columns` maps a dataset's column names to lion's fields)."""
    if "\x00" in text:
        raise SeedError(f"{where}:{_line_of(text, text.index(chr(0)))}: NUL byte (binary file?)")
    fmt = detect_format(text, where)
    if fmt in ("csv", "tsv"):
        return seed_parse(parse_table(text, where, "," if fmt == "csv" else "\t", columns, progress), where, fmt)
    if fmt == "text":
        return seed_parse(_parse_text(text), where, fmt)
    parser = _parse_json_array if fmt == "json" else _parse_jsonl
    raw, found = parser(text, where, columns or {}, progress)  # the parser names what it found
    return seed_parse(raw, where, found)


def parse_seed_bytes(data: bytes, where: str, columns: dict[str, str] | None = None,
                     progress: Progress | None = None) -> SeedParse:
    """A seed file's bytes parsed: a plain Alpaca JSON or JSONL file by the fast path (core/seed_fast.py),
    any other, or one that path cannot take whole, by parse_seed_text after a checked UTF-8 decode."""
    from lion_cli.core.seed_fast import plain_alpaca_items

    fmt = detect_format(data[:SNIFF_BYTES].decode("utf-8", "ignore"), where)
    if fmt in ("json", "jsonl") and not columns and (items := plain_alpaca_items(data, fmt, progress)) is not None:
        return seed_parse(items, where, fmt)
    return parse_seed_text(decode_seed_bytes(data, where), where, columns, progress)


def decode_seed_bytes(data: bytes, where: str) -> str:
    """UTF-8 (a BOM is fine); anything else is refused with the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SeedError(f"{where}:{line}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
