"""Role prompt templates (prompts/*.txt) → chat messages. The format is documented in prompts/README.md:

    === system ===
    text with {{placeholders}}
    === user ===
    ### Instruction:
    {{instruction}}{{#input}}

    ### Input:
    {{input}}{{/input}}

A `=== role ===` line (system, user or assistant) starts a message; a file without one is a single
user message. `{{name}}` is replaced by the value given to `render`; `{{#name}}…{{/name}}` is kept
only when that value is non-empty (after stripping whitespace). Each message's text loses its
surrounding blank lines, nothing else. Values are inserted literally (never expanded again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The generator prompts' own markers: a candidate that contains one is echoing the prompt, not
# writing an instruction (candidates.reject_reason → "echo"). Matched case-insensitively; they must
# stay in step with prompts/generator_*.txt (tests/test_core_prompts.py checks each one occurs there).
GENERATOR_MARKERS: tuple[str, ...] = (
    "[Seed instruction]",
    "[End of seed instruction]",
    "seed instruction",
    "Here is an instruction that a user once gave",
    "Write one new instruction",
    "Reply with the new instruction only",
)

ROLES = ("system", "user", "assistant")
_HEADER = re.compile(r"^===\s*([A-Za-z]+)\s*===\s*$")
_TAG = re.compile(r"\{\{\s*([#/]?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class TemplateError(ValueError):
    """A malformed template or a render with missing/unknown values; names the line or placeholder."""


@dataclass(frozen=True)
class Part:
    """A piece of a message: literal text, a placeholder, or a section kept only for a non-empty value."""

    kind: str  # "text" | "value" | "section"
    text: str = ""  # the literal text (kind "text") or the placeholder's name
    body: tuple[Part, ...] = ()  # a section's contents


@dataclass(frozen=True)
class TemplateMessage:
    role: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Template:
    name: str
    messages: tuple[TemplateMessage, ...]
    placeholders: frozenset[str]


def parse_template(text: str, name: str = "<template>") -> Template:
    """Parse a template; TemplateError says `name:line: problem` for a bad header or tag."""
    blocks: list[tuple[str, int, list[str]]] = []  # (role, first line of the body, body lines)
    for lineno, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            role = header.group(1).lower()
            if role not in ROLES:
                raise TemplateError(f"{name}:{lineno}: unknown role '{header.group(1)}' (expected one of "
                                    f"{', '.join(ROLES)})")
            blocks.append((role, lineno + 1, []))
        elif blocks:
            blocks[-1][2].append(line)
        elif line.strip():
            if any(_HEADER.match(x) for x in text.splitlines()):
                raise TemplateError(f"{name}:{lineno}: text before the first '=== role ===' header")
            blocks.append(("user", 1, text.splitlines()))
            break
    if not blocks:
        raise TemplateError(f"{name}:1: empty template")
    messages: list[TemplateMessage] = []
    names: set[str] = set()
    for role, first_line, lines in blocks:
        header_line = first_line - 1
        while lines and not lines[0].strip():  # blank lines around a message are layout, not content
            lines, first_line = lines[1:], first_line + 1
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        if not lines:
            raise TemplateError(f"{name}:{max(header_line, 1)}: empty '{role}' message")
        body = "\n".join(lines)
        _check_braces(body, name, first_line)
        messages.append(TemplateMessage(role, _parse_parts(body, name, first_line, names)))
    return Template(name, tuple(messages), frozenset(names))


def _check_braces(body: str, name: str, first_line: int) -> None:
    """Every '{{' or '}}' must belong to a well-formed tag: a typo must not reach a model silently."""
    blanked = _TAG.sub(lambda t: " " * len(t.group(0)), body)
    stray = min((i for i in (blanked.find("{{"), blanked.find("}}")) if i >= 0), default=-1)
    if stray >= 0:
        line = first_line + body.count("\n", 0, stray)
        raise TemplateError(f"{name}:{line}: malformed placeholder (expected {{{{name}}}} or "
                            "{{#name}}…{{/name}}, a name being letters, digits and _)")


def _parse_parts(body: str, name: str, first_line: int, names: set[str]) -> tuple[Part, ...]:
    top: list[Part] = []
    current, section, section_line = top, "", 0
    pos = 0
    for tag in _TAG.finditer(body):
        line = first_line + body.count("\n", 0, tag.start())
        if tag.start() > pos:
            current.append(Part("text", body[pos:tag.start()]))
        pos = tag.end()
        sigil, key = tag.group(1), tag.group(2)
        names.add(key)
        if sigil == "#":
            if section:
                raise TemplateError(f"{name}:{line}: section '{{{{#{key}}}}}' inside section '{section}' "
                                    "(sections do not nest)")
            section, section_line, current = key, line, []
        elif sigil == "/":
            if key != section:
                raise TemplateError(f"{name}:{line}: '{{{{/{key}}}}}' closes no open section"
                                    + (f" (open: '{section}')" if section else ""))
            top.append(Part("section", key, tuple(current)))
            section, current = "", top
        else:
            current.append(Part("value", key))
    if section:
        raise TemplateError(f"{name}:{section_line}: section '{{{{#{section}}}}}' is never closed")
    if pos < len(body):
        current.append(Part("text", body[pos:]))
    return tuple(top)


def render(template: Template, **values: str) -> list[dict[str, str]]:
    """The chat messages with every placeholder filled; every placeholder needs a value (a section's
    may be empty) and every value a placeholder, else TemplateError naming them."""
    missing = sorted(template.placeholders - values.keys())
    if missing:
        raise TemplateError(f"{template.name}: missing value for placeholder "
                            + ", ".join(f"{{{{{m}}}}}" for m in missing))
    unknown = sorted(values.keys() - template.placeholders)
    if unknown:
        raise TemplateError(f"{template.name}: unknown value(s) {', '.join(unknown)}; the template's placeholders "
                            f"are {', '.join(sorted(template.placeholders)) or '(none)'}")
    for key, value in values.items():
        if not isinstance(value, str):
            raise TemplateError(f"{template.name}: value for {{{{{key}}}}} must be a string, "
                                f"got {type(value).__name__}")
    return [{"role": m.role, "content": "".join(_fill(p, values) for p in m.parts)} for m in template.messages]


def _fill(part: Part, values: dict[str, str]) -> str:
    if part.kind == "text":
        return part.text
    if part.kind == "value":
        return values[part.text]
    if not values[part.text].strip():
        return ""
    return "".join(_fill(p, values) for p in part.body)
