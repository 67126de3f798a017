"""Score statements written as JSON objects in a referee reply ({"assistant_1": 8, "assistant_2": 6}).

Every object in the reply is decoded (nested ones too). A key that names an assistant must hold one
readable score: a repeated key, a list, a string such as "7 or 8", or a nested object with two
different scores is a problem, never a choice between them. The rule is in lion_cli/core/referee.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lion_cli.core.referee_statements import NUM, SCALE, Evidence

_ASSISTANT_KEY = re.compile(r"^(?:assistant|score|rating)_?(?:score_?|rating_?)?#?([0-9]+)(?:_?(?:score|rating))?$")
_SCORE_LIST_KEYS = ("scores", "ratings")
_SCORE_KEYS = ("score", "rating", "grade", "overall", "overall_score", "final_score", "total", "total_score")
_WINNER_KEYS = ("winner", "better", "best", "preferred", "better_assistant", "better_answer", "verdict")
_WINNER_VALUE = re.compile(r"^(?:assistant[_\s#]*)?([12])$|^(tie|draw|equal|neither|both)$")
_NUMBER_TEXT = re.compile(rf"\s*{NUM}{SCALE}\s*")
_MAX_DEPTH = 4  # {"evaluation": {"scores": {"assistant_1": {"score": 8}}}} is as deep as verdicts go


class _Object(dict[str, Any]):
    """A decoded object that remembers which keys it had more than once (json keeps only the last)."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    keys = [k for k, _ in pairs]
    obj.repeated = tuple(k for k in set(keys) if keys.count(k) > 1)
    return obj


def read_json(text: str, ev: Evidence) -> None:
    decoder = json.JSONDecoder(object_pairs_hook=_object)
    pos = text.find("{")
    while pos != -1:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        except RecursionError:
            return  # nested deeper than any verdict object: not one
        ev.json_spans.append((pos, end))
        _read_object(obj, ev, (pos, end), digit_keys=False, depth=0)
        pos = text.find("{", end)


def _key(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().lower())


def _read_object(obj: Any, ev: Evidence, span: tuple[int, int], *, digit_keys: bool, depth: int) -> None:
    if not isinstance(obj, dict) or depth > _MAX_DEPTH:
        return
    for key in getattr(obj, "repeated", ()):
        if _ASSISTANT_KEY.match(_key(key)) or _key(key) in _SCORE_LIST_KEYS + _WINNER_KEYS:
            ev.fail(f"JSON key {key!r} given more than once")
    for key, value in obj.items():
        name = _key(key)
        if name in _SCORE_LIST_KEYS:
            _score_list(key, value, ev, span, depth)
        elif name in _WINNER_KEYS:
            won = _WINNER_VALUE.match(_key(str(value)))
            if won:
                ev.winners.add(won.group(1) or "tie")
        elif (m := _ASSISTANT_KEY.match(name) or (re.fullmatch(r"[0-9]+", name) if digit_keys else None)):
            who = int(m.group(1) if m.groups() else m.group(0))
            _assistant_value(who, key, value, ev, span)
        elif isinstance(value, dict):  # {"evaluation": {"assistant_1": …}}
            _read_object(value, ev, span, digit_keys=False, depth=depth + 1)


def _score_list(key: str, value: Any, ev: Evidence, span: tuple[int, int], depth: int) -> None:
    if isinstance(value, dict):  # {"scores": {"assistant_1": 8, …}} or {"scores": {"1": 8, "2": 6}}
        _read_object(value, ev, span, digit_keys=True, depth=depth + 1)
        return
    numbers = [v for v in value if _is_number(v)] if isinstance(value, list) else []
    if len(numbers) != 2 or len(value) != 2:
        ev.fail(f"JSON key {key!r} does not hold exactly two scores: {value!r}")
        return
    ev.add(1, str(numbers[0]), None, f"JSON key {key!r}", span)
    ev.add(2, str(numbers[1]), None, f"JSON key {key!r}", span)


def _assistant_value(who: int, key: str, value: Any, ev: Evidence, span: tuple[int, int]) -> None:
    if who not in (1, 2):
        ev.fail(f"JSON key {key!r} scores an assistant that was not shown (only 1 and 2 were)")
        return
    if isinstance(value, dict):  # {"assistant_1": {"score": 8, "reason": "…"}}
        found = {_key(k): v for k, v in value.items() if _key(k) in _SCORE_KEYS}
        if len({json.dumps(v) for v in found.values()}) > 1:
            ev.fail(f"JSON key {key!r} holds more than one score: {found!r}")
            return
        if not found:
            return
        value = next(iter(found.values()))
    if value is None:
        return
    if _is_number(value):
        ev.add(who, str(value), None, f"JSON key {key!r}", span)
    elif isinstance(value, str) and (s := _NUMBER_TEXT.fullmatch(value)):
        ev.add(who, s.group(1), s.group(2), f"JSON key {key!r}", span)
    elif isinstance(value, list) or (isinstance(value, str) and re.search(r"[0-9]", value)):
        ev.fail(f"JSON key {key!r} does not hold one readable score: {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
