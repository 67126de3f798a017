"""The common seed file, read fast: a JSON array or JSON Lines of plain Alpaca records (pure).

msgspec decodes the file's bytes straight into typed records, in C: no dict per record and no separate
UTF-8 decode of the whole file (a 52K-row Alpaca file in a quarter of json.loads' time, the items
included). This path never decides an error: a file it cannot take whole (another shape, one odd record,
a byte-order mark, a field that is not text) returns None, and the general parser in core/seeds.py reads
it again and names what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from operator import attrgetter
from typing import Any

from lion_cli.core.seed_records import PROGRESS_EVERY
from lion_cli.core.types import SeedItem

Progress = Callable[[int], None]

_INSTRUCTION, _INPUT, _OUTPUT = attrgetter("instruction"), attrgetter("input"), attrgetter("output")
_AS_ITEM = partial(tuple.__new__, SeedItem)  # (instruction, input, output) → SeedItem, in C
_BLANK_LINE_MAX = 16  # bytes: a longer line is decoded (one of whitespace only then fails, as it should)


@cache
def _decoders() -> tuple[Any, Any]:
    """(a JSON array decoder, a one-record decoder for JSON Lines), made on first use: msgspec is
    imported only when a seed file is read."""
    import msgspec

    # A key of another shape present at all (even null) is not a plain Alpaca record, as record_shape and
    # _plain_alpaca see it: typed as "never given", any value of it fails the decode, in C.
    plain_record: Any = msgspec.defstruct("PlainRecord", [
        ("instruction", str), ("input", str, ""), ("output", str, ""),
        *((key, msgspec.UnsetType, msgspec.UNSET) for key in ("instances", "conversations", "messages"))])
    return msgspec.json.Decoder(list.__class_getitem__(plain_record)), msgspec.json.Decoder(plain_record)


def _lines_decoded(decoder: Any, data: bytes, progress: Progress | None) -> list[Any]:
    """A JSON Lines file's records: one JSON value on each line that is not blank, as the general parser
    reads them (msgspec's decode_lines takes any whitespace-separated stream of values: a pretty-printed
    record, two records on a line). A blank line is JSON whitespace only and short; any other line that
    holds no value raises, and the general parser then reads the file."""
    records: list[Any] = []
    view, start, size, decode = memoryview(data), 0, len(data), decoder.decode
    while start < size:
        end = data.find(b"\n", start) + 1 or size
        if end - start > _BLANK_LINE_MAX or view[start:end].tobytes().strip(b" \t\r\n"):
            records.append(decode(view[start:end]))
            if progress is not None and len(records) % PROGRESS_EVERY == 0:
                progress(len(records))
        start = end
    return records


def plain_alpaca_items(data: bytes, fmt: str, progress: Progress | None = None) -> list[SeedItem] | None:
    """Every record of a "json" (array) or "jsonl" file as an item, when all of them are plain Alpaca
    records with text fields; otherwise None. `progress` hears the records decoded so far (a JSON array is
    decoded whole, so it hears once)."""
    import msgspec

    array, line = _decoders()
    try:
        if not data.isascii():
            data.decode("utf-8")  # msgspec checks only the strings it keeps; a skipped field may be bad UTF-8
        records = array.decode(data) if fmt == "json" else _lines_decoded(line, data, progress)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # malformed, not UTF-8, another shape,
        return None                                                      # a field not text, nested too deep
    if fmt == "json" and progress is not None:
        progress(len(records))
    if not records:
        return None
    instructions = list(map(str.strip, map(_INSTRUCTION, records)))
    if not all(instructions):
        return None  # an empty instruction: the general parser's to refuse
    # maps and zip, all of them C: a comprehension over 52K records costs half as much again
    return list(map(_AS_ITEM, zip(instructions, map(str.strip, map(_INPUT, records)),
                                  map(str.strip, map(_OUTPUT, records)), strict=True)))
