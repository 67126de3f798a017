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


def _item_from_obj(obj: Any, where: str, line: int) -> SeedItem:
    if not isinstance(obj, dict):
        raise SeedError(f"{where}:{line}: expected a JSON object, got {type(obj).__name__}")
    if "instruction" not in obj:
        raise SeedError(f"{where}:{line}: missing field 'instruction'")
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


def _parse_json_array(text: str, where: str) -> list[SeedItem]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{where}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise SeedError(f"{where}:1: expected a JSON array of objects")
    # Locate each element's line by scanning for object starts at depth 1.
    starts = _object_lines(text)
    return [_item_from_obj(o, where, starts[i] if i < len(starts) else 1) for i, o in enumerate(data)]


def _object_lines(text: str) -> list[int]:
    lines, depth, in_str, esc = [], 0, False, False
    for pos, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            if depth == 1:
                lines.append(_line_of(text, pos))
            depth += 1
        elif ch in "]}":
            depth -= 1
    return lines


def _parse_jsonl(text: str, where: str) -> list[SeedItem]:
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeedError(f"{where}:{n}: invalid JSON: {exc.msg}") from None
        items.append(_item_from_obj(obj, where, n))
    return items


def _parse_text(text: str, where: str) -> list[SeedItem]:
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            items.append(SeedItem(line.strip(), "", "", n))
    return items


def detect_format(text: str, filename: str) -> str:
    stripped = text.lstrip()
    if filename.endswith(".jsonl") or (stripped.startswith("{")):
        return "jsonl"
    if filename.endswith(".json") or stripped.startswith("["):
        return "json"
    return "text"


def parse_seed_text(text: str, where: str) -> SeedParse:
    """Parse a seed file's text; exact duplicates (same instruction and input) are dropped."""
    if "\x00" in text:
        raise SeedError(f"{where}:{_line_of(text, text.index(chr(0)))}: NUL byte (binary file?)")
    fmt = detect_format(text, where)
    parsers = {"json": _parse_json_array, "jsonl": _parse_jsonl, "text": _parse_text}
    raw = parsers[fmt](text, where)
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
