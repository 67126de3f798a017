"""Parse seed instruction files (pure: text in, items or a located error out).

Formats: an Alpaca JSON array (instruction / input / output), JSONL of the same, Self-Instruct
`seed_tasks.jsonl` (instruction + instances[0]), and plain text with one instruction per line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lion_cli.core.types import SeedItem, content_hash


class SeedError(ValueError):
    """A malformed seed file; the message starts with file:line."""


@dataclass(frozen=True)
class SeedParse:
    items: list[SeedItem]
    duplicates: int
    fmt: str


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _is_self_instruct(first: Any) -> bool:
    """Self-Instruct seed tasks carry their input/output in `instances`; the first row decides."""
    return isinstance(first, dict) and "instances" in first


def _item_from_obj(obj: Any, where: str, line: int, *, self_instruct: bool = False) -> SeedItem:
    if not isinstance(obj, dict):
        raise SeedError(f"{where}:{line}: expected a JSON object, got {type(obj).__name__}")
    if "instruction" not in obj:
        raise SeedError(f"{where}:{line}: missing field 'instruction'")
    if self_instruct and "instances" not in obj:
        raise SeedError(f"{where}:{line}: missing field 'instances' (the file's first row is a Self-Instruct "
                        "task, so every row needs one)")
    instruction = obj["instruction"]
    if not isinstance(instruction, str):
        raise SeedError(f"{where}:{line}: field 'instruction' must be a string")
    inp, out = obj.get("input", ""), obj.get("output", "")
    if "instances" in obj:  # Self-Instruct seed task: the first instance carries input/output
        instances = obj["instances"]
        if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
            raise SeedError(f"{where}:{line}: field 'instances' must be a non-empty list of objects")
        inp, out = instances[0].get("input", ""), instances[0].get("output", "")
    for name, value in (("input", inp), ("output", out)):
        if value is not None and not isinstance(value, str):
            raise SeedError(f"{where}:{line}: field '{name}' must be a string")
    if not instruction.strip():
        raise SeedError(f"{where}:{line}: empty instruction")
    return SeedItem(instruction.strip(), (inp or "").strip(), (out or "").strip(), line)


def _parse_json_array(text: str, where: str) -> tuple[list[SeedItem], str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            return _parse_jsonl(text, where)  # JSON Lines saved under a .json name
        raise SeedError(f"{where}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise SeedError(f"{where}:1: expected a JSON array of objects, got {type(data).__name__}")
    starts = _element_lines(text)
    self_instruct = bool(data) and _is_self_instruct(data[0])
    items: list[SeedItem] = []
    for i, obj in enumerate(data):
        line = starts[i] if i < len(starts) else 1
        items.append(_item_from_obj(obj, where, line, self_instruct=self_instruct))
    return items, "self-instruct" if self_instruct else "json"


def _element_lines(text: str) -> list[int]:
    """The line on which each element of the top-level array starts (any kind of value: a string
    or number element must not shift the lines of the objects after it)."""
    lines: list[int] = []
    depth, in_str, esc, expect_value = 0, False, False, False
    for pos, ch in enumerate(text):
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
            lines.append(_line_of(text, pos))
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


def _parse_jsonl(text: str, where: str) -> tuple[list[SeedItem], str]:
    items = []
    self_instruct: bool | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeedError(f"{where}:{n}: invalid JSON: {exc.msg}") from None
        if self_instruct is None:
            self_instruct = _is_self_instruct(obj)
        items.append(_item_from_obj(obj, where, n, self_instruct=self_instruct))
    return items, "self-instruct" if self_instruct else "jsonl"


def _parse_text(text: str, where: str) -> tuple[list[SeedItem], str]:
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            items.append(SeedItem(line.strip(), "", "", n))
    return items, "text"


def detect_format(text: str, filename: str) -> str:
    """json (an array), jsonl or text. The extension decides when it is one of ours (a .txt line may
    well start with '['); otherwise the first character does."""
    stripped = text.lstrip()
    name = filename.lower()
    if name.endswith(".txt"):
        return "text"
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    return "text"


def parse_seed_text(text: str, where: str) -> SeedParse:
    """Parse a seed file's text; exact duplicates (same instruction and input) are dropped."""
    if "\x00" in text:
        raise SeedError(f"{where}:{_line_of(text, text.index(chr(0)))}: NUL byte (binary file?)")
    fmt = detect_format(text, where)
    parsers = {"json": _parse_json_array, "jsonl": _parse_jsonl, "text": _parse_text}
    raw, fmt = parsers[fmt](text, where)  # the parser names what it found (json, jsonl, self-instruct, text)
    if not raw:
        raise SeedError(f"{where}:1: no instructions found")
    seen: set[str] = set()
    items: list[SeedItem] = []
    for item in raw:
        key = content_hash(item.instruction, item.input)
        if key not in seen:
            seen.add(key)
            items.append(item)
    return SeedParse(items, len(raw) - len(items), fmt)


def decode_seed_bytes(data: bytes, where: str) -> str:
    """UTF-8 (a BOM is fine); anything else is refused with the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SeedError(f"{where}:{line}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
