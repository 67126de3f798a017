"""One seed record (a JSON object, a table row, a dataset row) → a SeedItem, whatever its shape (pure).

Shapes, told apart by the first record of a file (every later record must have the same shape):
- alpaca: `instruction`, optional `input` and `output`;
- self-instruct: `instruction` plus `instances`, whose first element carries `input` and `output`;
- sharegpt: `conversations`, a list of {from, value} turns; the first human turn is the instruction,
  the next gpt turn its output;
- openai: `messages`, a list of {role, content}; the first user turn is the instruction, the next
  assistant turn its output.
A chat record's system prompt (system turns before the first user turn) is kept as the item's input,
the context the teacher sees with the instruction, so nothing the dataset said is lost. A chat record
that also carries `instruction` and `input` whose join is its first user turn (lion's own exports) is
read from those two fields, so an exported item comes back exactly as it was.
A column map (`--seed-columns instruction=q,input=ctx`) renames a dataset's columns to these fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lion_cli.core.types import SeedItem

FIELDS = ("instruction", "input", "output")
USER_ROLES = frozenset({"human", "user"})
ASSISTANT_ROLES = frozenset({"gpt", "assistant", "bot", "chatgpt", "model"})
PROGRESS_EVERY = 10_000


class SeedError(ValueError):
    """A malformed seed source; the message starts with where (file:line, file: row N)."""


class RecordProblem(ValueError):
    """What is wrong with one record; the caller adds where it is (file:line or file: row N)."""


def parse_column_map(spec: str) -> dict[str, str]:
    """`instruction=q,input=ctx` → {"instruction": "q", "input": "ctx"}; ValueError naming the bad part."""
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        field, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not field or not column:
            raise ValueError(f"{part!r}: expected FIELD=COLUMN, e.g. instruction=question")
        if field not in FIELDS:
            raise ValueError(f"{part!r}: the field must be one of {', '.join(FIELDS)}")
        mapping[field] = column
    return mapping


def user_text(instruction: str, input_text: str) -> str:
    """The user turn of an item in a chat layout: the instruction, then its input after a blank line."""
    return instruction if not input_text else f"{instruction}\n\n{input_text}"


def record_shape(first: Any) -> str:
    if isinstance(first, dict):
        for key, shape in (("conversations", "sharegpt"), ("messages", "openai"), ("instances", "self-instruct")):
            if key in first:
                return shape
    return "alpaca"


def apply_columns(obj: Any, columns: dict[str, str]) -> Any:
    """The record with the mapped columns under lion's field names (the others as they were)."""
    if not columns or not isinstance(obj, dict):
        return obj
    renamed = dict(obj)
    for field, column in columns.items():
        if column not in obj:
            raise RecordProblem(f"missing column '{column}' (named by --seed-columns {field}={column})")
        renamed[field] = obj[column]
    return renamed


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordProblem(f"field '{name}' must be a string")
    return value


def _item(instruction: Any, inp: Any, out: Any) -> SeedItem:
    instruction = _text(instruction, "instruction")
    inp, out = _text(inp, "input"), _text(out, "output")
    if not instruction.strip():
        raise RecordProblem("empty instruction")
    return SeedItem(instruction.strip(), inp.strip(), out.strip())


def _alpaca(obj: dict[str, Any], shape: str) -> SeedItem:
    if "instruction" not in obj:
        raise RecordProblem("missing field 'instruction' (expected instruction/input/output, ShareGPT "
                            "'conversations' or OpenAI 'messages'; --seed-columns names other columns)")
    if shape == "self-instruct" and "instances" not in obj:
        raise RecordProblem("missing field 'instances' (the file's first row is a Self-Instruct task, so every "
                            "row needs one)")
    if "instances" in obj:
        instances = obj["instances"]
        if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
            raise RecordProblem("field 'instances' must be a non-empty list of objects")
        return _item(obj["instruction"], instances[0].get("input"), instances[0].get("output"))
    return _item(obj["instruction"], obj.get("input"), obj.get("output"))


def _content(value: Any) -> str:
    """A turn's text: a string, or OpenAI's list of parts (the text parts joined)."""
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, dict) and p.get("type", "text") == "text")
    return _text(value, "content")


def _turns(obj: dict[str, Any], shape: str) -> list[tuple[str, str]]:
    key, role_key, text_key = ("conversations", "from", "value") if shape == "sharegpt" else \
        ("messages", "role", "content")
    turns = obj.get(key)
    if not isinstance(turns, list):
        raise RecordProblem(f"field '{key}' must be a list of turns (the file's first row is {shape})")
    out = []
    for turn in turns:
        if not isinstance(turn, dict):
            raise RecordProblem(f"field '{key}': every turn must be an object with '{role_key}' and '{text_key}'")
        role = turn.get(role_key, turn.get("role", turn.get("from")))
        out.append((str(role).lower(), _content(turn.get(text_key, turn.get("content", turn.get("value"))))))
    return out


def _chat(obj: dict[str, Any], shape: str) -> SeedItem:
    turns = _turns(obj, shape)
    first = next((i for i, (role, _) in enumerate(turns) if role in USER_ROLES), None)
    if first is None:
        raise RecordProblem(f"no user turn (expected a turn whose role is {' or '.join(sorted(USER_ROLES))})")
    system = "\n\n".join(text.strip() for role, text in turns[:first] if role == "system" and text.strip())
    output = next((text for role, text in turns[first + 1:] if role in ASSISTANT_ROLES), "")
    instruction, inp = obj.get("instruction"), obj.get("input") or ""
    if isinstance(instruction, str) and isinstance(inp, str) and user_text(instruction, inp) == turns[first][1]:
        return _item(instruction, inp, output)
    return _item(turns[first][1], system, output)


def item_from_record(obj: Any, shape: str, columns: dict[str, str] | None = None) -> SeedItem:
    obj = apply_columns(obj, columns or {})
    if not isinstance(obj, dict):
        raise RecordProblem(f"expected a JSON object, got {type(obj).__name__}")
    if shape in ("sharegpt", "openai"):
        return _chat(obj, shape)
    return _alpaca(obj, shape)


def _plain_alpaca(obj: Any) -> SeedItem | None:
    """The common case at a few checks' cost, record by record; None sends the record through the full
    rules, which name what is wrong with it."""
    if type(obj) is not dict or "instances" in obj:
        return None
    instruction, inp, out = obj.get("instruction"), obj.get("input", ""), obj.get("output", "")
    if type(instruction) is not str or type(inp) is not str or type(out) is not str:
        return None
    instruction = instruction.strip()
    return SeedItem(instruction, inp.strip(), out.strip()) if instruction else None


def items_from_records(records: Iterable[Any], locate: Callable[[int], str], *, shape: str | None = None,
                       columns: dict[str, str] | None = None,
                       progress: Callable[[int], None] | None = None) -> tuple[list[SeedItem], str]:
    """Every record as an item, and the shape the first one set; a problem raises SeedError at
    `locate(index)` (the location is worked out only then: a large file pays nothing for it)."""
    items: list[SeedItem] = []
    for i, obj in enumerate(records):
        try:
            if shape is None:
                shape = record_shape(apply_columns(obj, columns or {}))
            plain = None if columns or shape != "alpaca" else _plain_alpaca(obj)
            items.append(plain or item_from_record(obj, shape, columns))
        except RecordProblem as exc:
            raise SeedError(f"{locate(i)}: {exc}") from None
        if progress is not None and (i + 1) % PROGRESS_EVERY == 0:
            progress(i + 1)
    return items, shape or "alpaca"
