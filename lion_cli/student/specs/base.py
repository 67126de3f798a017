"""What every job spec shares: checks driven by the field annotations and a `limits` table, and the
JSON round trip (`to_json` / `from_json` / `read`) whose errors name the key."""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, Union, get_args, get_origin, get_type_hints


class SpecError(ValueError):
    """A spec or a job's input file that cannot work; the message names the key (or file and line)."""


# (test, what a good value is) for a key's range; the type is checked from the annotation first.
Limit = tuple[Callable[[Any], bool], str]
POSITIVE: Limit = (lambda v: v > 0, "> 0")
NOT_NEGATIVE: Limit = (lambda v: v >= 0, "≥ 0")
FRACTION: Limit = (lambda v: 0 <= v < 1, "in [0, 1)")
TOP_P: Limit = (lambda v: 0 < v <= 1, "in (0, 1]")


def _matches(value: Any, hint: Any) -> bool:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return isinstance(value, str) and value in args
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint in (int, float):  # bool is an int to Python, never to a spec
        return isinstance(value, int if hint is int else int | float) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(args)
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(hint, "an object")


@dataclass
class Spec:
    """What every spec shares: the checks driven by annotations and `limits`, and the JSON form."""

    limits: ClassVar[dict[str, Limit]] = {}

    def validate(self) -> None:
        """Raise SpecError naming the first key whose value cannot work."""
        self._check_fields("")

    def _check_fields(self, prefix: str) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            key, value, hint = prefix + f.name, getattr(self, f.name), hints[f.name]
            if isinstance(value, Spec) and isinstance(hint, type) and isinstance(value, hint):
                value._check_fields(f"{key}.")
                continue
            if not _matches(value, hint):
                raise SpecError(f"key {key!r}: expected {_describe(hint)}, got {value!r}")
            if _required(f) and isinstance(value, str) and not value:
                raise SpecError(f"key {key!r}: expected a non-empty string")
            test, good = self.limits.get(f.name, (None, ""))
            if test is not None and not test(value):
                raise SpecError(f"key {key!r}: expected a value {good}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Any, source: str = "spec") -> Self:
        """The spec a JSON object describes, validated; SpecError names `source` and the key."""
        spec = cls._build(raw, source, "")
        try:
            spec.validate()
        except SpecError as exc:
            raise SpecError(f"{source}: {exc}") from None
        return spec

    @classmethod
    def from_json(cls, text: str, source: str = "spec") -> Self:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{source}: cannot read the spec as JSON: {exc}") from None
        return cls.from_dict(raw, source)

    @classmethod
    def read(cls, path: Path) -> Self:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"{path}: cannot read the spec: {exc}") from None
        return cls.from_json(text, str(path))

    def write(self, path: Path) -> Path:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")
        return Path(path)

    @classmethod
    def _build(cls, raw: Any, source: str, prefix: str) -> Self:
        if not isinstance(raw, dict):
            raise SpecError(f"{source}: {f'key {prefix[:-1]!r}: ' if prefix else ''}expected a JSON object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(prefix + k for k in set(raw) - set(known))
        if unknown:
            raise SpecError(f"{source}: unknown key(s) {unknown}; expected {sorted(prefix + k for k in known)}")
        missing = [prefix + name for name, f in known.items() if _required(f) and name not in raw]
        if missing:
            raise SpecError(f"{source}: missing key(s) {missing}")
        hints = get_type_hints(cls)
        values = {}
        for name, value in raw.items():
            hint = hints[name]
            if isinstance(hint, type) and issubclass(hint, Spec):
                value = hint._build(value, source, f"{prefix}{name}.")
            elif hint is float and _matches(value, int):
                value = float(value)  # JSON writes 2.0 as 2: the spec holds the number it meant
            values[name] = value
        return cls(**values)


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
