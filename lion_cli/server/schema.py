"""The part of JSON Schema that structured outputs use, for `response_format`: checking a reply against a
schema (model mode validates, then retries) and writing a value that fits one (the scripted backend).

Understood: type (one or a list), properties, required, additionalProperties (false), items, enum, const,
minimum / maximum, minLength / maxLength, minItems / maxItems, anyOf / oneOf, and local $ref into $defs or
definitions. Other keywords are not checked.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                       "integer": (int,), "number": (int, float), "null": (type(None),)}
_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.S)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for step in ref[2:].split("/"):
        target = target.get(step, {}) if isinstance(target, dict) else {}
    return _resolve(target, root) if isinstance(target, dict) else {}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _bounds_problem(value: Any, schema: dict[str, Any], path: str) -> str | None:
    checks = [("minimum", lambda v, b: v >= b), ("maximum", lambda v, b: v <= b)] if _is_type(value, "number") else []
    if isinstance(value, str | list):
        key = "Length" if isinstance(value, str) else "Items"
        checks = [(f"min{key}", lambda v, b: len(v) >= b), (f"max{key}", lambda v, b: len(v) <= b)]
    for keyword, holds in checks:
        if keyword in schema and not holds(value, schema[keyword]):
            return f"{path}: {keyword} {schema[keyword]} not met"
    return None


def _object_problem(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str) -> str | None:
    properties = schema.get("properties") or {}
    missing = [k for k in schema.get("required") or [] if k not in value]
    if missing:
        return f"{path}: missing {', '.join(missing)}"
    extra = [k for k in value if k not in properties]
    if schema.get("additionalProperties") is False and extra:
        return f"{path}: unexpected {', '.join(extra)}"
    for key, item in value.items():
        if key in properties:
            found = problem(item, properties[key], root, f"{path}.{key}")
            if found:
                return found
    return None


def problem(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "$") -> str | None:
    """Why `value` does not fit `schema` (None when it does)."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches and all(problem(value, b, root, path) for b in branches):
        return f"{path}: matches none of the alternatives"
    types = schema.get("type")
    names = [types] if isinstance(types, str) else types or []
    if names and not any(_is_type(value, t) for t in names):
        return f"{path}: expected {' or '.join(names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: not one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: expected {schema['const']!r}"
    if isinstance(value, dict):
        return _object_problem(value, schema, root, path)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found = problem(item, schema["items"], root, f"{path}[{i}]")
            if found:
                return found
    return _bounds_problem(value, schema, path)


def parse_reply(text: str, schema: dict[str, Any]) -> tuple[str | None, str]:
    """(the reply's JSON text, "") when the reply (optionally in a ```json fence) fits, else (None, why)."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        value = json.loads(body)
    except ValueError:
        return None, "the reply is not JSON"
    why = problem(value, schema)
    return (None, why) if why else (body, "")


def _number_in(schema: dict[str, Any], wanted: float | None, rng: random.Random, whole: bool) -> float:
    low, high = float(schema.get("minimum", 1)), float(schema.get("maximum", max(10, schema.get("minimum", 1))))
    value = wanted if wanted is not None else rng.uniform(low, high)
    value = min(high, max(low, value))
    return round(value) if whole else round(value, 2)


def _enum_member(members: list[Any], numbers: list[float], rng: random.Random) -> Any:
    """A numeric enum (the referee's 1..10 scores) takes the caller's next number, clamped to the nearest
    member, so the scores a scripted referee computed reach its structured reply; other enums draw."""
    numeric = [m for m in members if isinstance(m, int | float) and not isinstance(m, bool)]
    if numeric and numbers:
        wanted = numbers.pop(0)
        return min(numeric, key=lambda m: (abs(m - wanted), m))
    return rng.choice(members)


def example(schema: dict[str, Any], text: str, numbers: list[float], rng: random.Random,
            root: dict[str, Any] | None = None) -> Any:
    """A value that fits `schema`: strings carry `text`, numbers are taken from `numbers` in order (then drawn
    from `rng`), so a caller's own values (a referee's scores) land in the reply."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return example(branches[0], text, numbers, rng, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return _enum_member(schema["enum"], numbers, rng)
    types = schema.get("type")
    kind = (types if isinstance(types, str) else next((t for t in types or [] if t != "null"), None)) or (
        "object" if "properties" in schema else "string")
    if kind == "object":
        return {k: example(v, text, numbers, rng, root) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example(schema.get("items") or {}, text, numbers, rng, root) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number_in(schema, numbers.pop(0) if numbers else None, rng, kind == "integer")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    cut = text[: int(schema.get("maxLength", len(text)))]
    return cut.ljust(int(schema.get("minLength", 0)), ".")
