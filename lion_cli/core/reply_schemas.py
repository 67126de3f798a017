"""Replies asked for under a JSON schema: the referee's verdict and the generator's new instruction.

A schema travels in one of two shapes of `response_format` (ReplyShape), found per endpoint by the
probe (llm/probe.py): OpenAI's `{"type": "json_schema", "json_schema": {...}}` (OpenAI, vLLM), or
`{"type": "json_object", "schema": {...}}` (llama-cpp-python's server, which refuses the first and
enforces the second as a grammar). Scores are an `enum` of 1..10, not minimum/maximum: a grammar
built from the schema honours an enum but ignores bounds, and the parser still checks the range.

The referee's schema puts `reasoning` first, so a model writes its evidence before its scores. A
structured reply is read strictly, with the rule of core/referee.py (no guessing): the reply must be
exactly one JSON object with exactly the schema's keys, no key twice, each of the right type; a
score must be a JSON integer (8, not 8.0 or "8") in 1..10. Anything else is a ParseFailure, asked
again like an unreadable free-text reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from lion_cli.core.referee import HIGH, LOW, ParseFailure, Scores

ReplyShape = Literal["json_schema", "json_object+schema"]
# The order the probe tries them in: the standard first.
REPLY_SHAPES: tuple[ReplyShape, ...] = ("json_schema", "json_object+schema")
# What is remembered of an endpoint: the shape it answered under, or "text" (neither worked).
KnownShape = ReplyShape | Literal["text"]
MIN_STRING_CHARS = 16   # the shortest a bounded free-text field gets, however small max_tokens is


@dataclass(frozen=True)
class ReplySchema:
    name: str
    schema: dict[str, Any]

    def response_format(self, shape: ReplyShape = "json_schema", max_tokens: int | None = None) -> dict[str, Any]:
        """The request parameter in `shape`; json_schema is strict: the server must keep to the schema,
        not just aim for it. Under json_object+schema (a grammar) with `max_tokens` known, each free
        string gets a maxLength that leaves room for the scores: a grammar-bound model that talks until
        max_tokens would otherwise end mid-string, an unreadable reply. (OpenAI's strict mode refuses
        maxLength, so the json_schema shape goes without it.)"""
        if shape == "json_object+schema":
            return {"type": "json_object", "schema": self._bounded(max_tokens) if max_tokens else self.schema}
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.schema, "strict": True}}

    def _bounded(self, max_tokens: int) -> dict[str, Any]:
        props = self.schema["properties"]
        strings = [k for k, v in props.items() if v.get("type") == "string"]
        if not strings:
            return self.schema
        # ~2 characters a token, after ~32 tokens of braces, keys and scores
        length = max(MIN_STRING_CHARS, (max_tokens - 32) * 2 // len(strings))
        bounded = {k: ({**v, "maxLength": length} if k in strings else v) for k, v in props.items()}
        return {**self.schema, "properties": bounded}


def _object_schema(properties: dict[str, Any]) -> dict[str, Any]:
    # Strict mode wants every property required and no others allowed.
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


_SCORE = {"type": "integer", "enum": list(range(int(LOW), int(HIGH) + 1))}
REFEREE_REPLY = ReplySchema("referee_verdict", _object_schema(
    {"reasoning": {"type": "string"}, "assistant_1": _SCORE, "assistant_2": _SCORE}))
# Vicuna-80's judge: setting 1 asks for the two scores and then an explanation, as Vicuna's reviews
# did; setting 2 (Multiple Evidence Calibration) wants the evidence written before any score.
JUDGE_SCORES_REPLY = ReplySchema("judge_scores", _object_schema(
    {"assistant_1": _SCORE, "assistant_2": _SCORE, "explanation": {"type": "string"}}))
JUDGE_EVIDENCE_REPLY = ReplySchema("judge_evidence", _object_schema(
    {"evidence": {"type": "string"}, "assistant_1": _SCORE, "assistant_2": _SCORE}))
GENERATOR_REPLY = ReplySchema("new_instruction", _object_schema({"instruction": {"type": "string"}}))


class _RepeatedKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _RepeatedKey(f"JSON key {repeated[0]!r} given more than once")
    return dict(pairs)


def _fields(reply: str, schema: ReplySchema) -> dict[str, Any] | ParseFailure:
    """The reply's one JSON object, holding exactly the schema's keys."""
    if not reply or not reply.strip():
        return ParseFailure("empty reply")
    try:
        # strict=False lets a raw newline or tab stand inside a string (a grammar-bound llama.cpp model
        # writes them in its reasoning); it changes no number or key, so nothing is guessed.
        value = json.loads(reply, object_pairs_hook=_pairs, strict=False)
    except _RepeatedKey as exc:
        return ParseFailure(str(exc))
    except ValueError as exc:
        return ParseFailure(f"the structured reply is not one JSON value ({exc})")
    if not isinstance(value, dict):
        return ParseFailure(f"the structured reply is a JSON {type(value).__name__}, not an object")
    expected = list(schema.schema["properties"])
    missing = [k for k in expected if k not in value]
    extra = sorted(k for k in value if k not in expected)
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"]
                                                                            if extra else [])
        return ParseFailure(f"the structured reply's keys do not fit its schema: {'; '.join(parts)}")
    return value


def _score(value: Any, key: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{key} is not a JSON integer: {value!r}"
    if not LOW <= value <= HIGH:
        return f"{key} is off the 1-10 scale: {value}"
    return value


def parse_structured_scores(reply: str, schema: ReplySchema = REFEREE_REPLY) -> Scores | ParseFailure:
    """The scores in a reply written under `schema` (REFEREE_REPLY or a judge's: two scores and one
    text field), or why it cannot be read."""
    fields = _fields(reply, schema)
    if isinstance(fields, ParseFailure):
        return fields
    for key, spec in schema.schema["properties"].items():
        if spec.get("type") == "string" and not isinstance(fields[key], str):
            return ParseFailure(f"{key} is not a string: {fields[key]!r}")
    first, second = _score(fields["assistant_1"], "assistant_1"), _score(fields["assistant_2"], "assistant_2")
    if isinstance(first, str) or isinstance(second, str):
        return ParseFailure(first if isinstance(first, str) else str(second))
    return Scores(float(first), float(second))


def parse_structured_instruction(reply: str) -> str | ParseFailure:
    """The instruction in a reply written under GENERATOR_REPLY, or why it cannot be read."""
    fields = _fields(reply, GENERATOR_REPLY)
    if isinstance(fields, ParseFailure):
        return fields
    text = fields["instruction"]
    return text if isinstance(text, str) else ParseFailure(f"instruction is not a string: {text!r}")
