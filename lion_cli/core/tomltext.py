"""Set values in a commented TOML template without losing its comments (pure text editing).

The template must already contain every key being set, each on its own single-line `key = value`
under its `[section]` header; that holds for lion.toml, which documents every key.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")


def toml_string(value: str) -> str:
    """A TOML basic string. Not json.dumps: JSON writes non-BMP characters as surrogate pairs
    (\\ud83d\\ude00), which TOML rejects."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if value is None or isinstance(value, dict):
        raise ValueError(f"{value!r} cannot be written as a single TOML value")
    return toml_string(str(value))


def _comment_start(rest: str) -> int:
    """Index of the `#` that starts a trailing comment in a single-line value, or -1.

    Quote-aware, so a `#` inside a string (a URL fragment, a project name) is not a comment."""
    quote = ""
    i = 0
    while i < len(rest):
        ch = rest[i]
        if quote:
            if quote == '"' and ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in ('"', "'"):
            quote = ch
        elif ch == "#":
            return i
        i += 1
    return -1


def get_key(text: str, dotted: str) -> str | None:
    """The raw value text of `key` in `[section]` (no comment), or None when absent."""
    found = _find(text.splitlines(keepends=True), dotted)
    return None if found is None else found[2].strip()


def _find(lines: list[str], dotted: str) -> tuple[int, str, str, str] | None:
    """(line index, text before the value, the value, the comment and line end) of a key."""
    section, _, key = dotted.rpartition(".")
    if not section:
        raise KeyError(f"'{dotted}': expected section.key")
    key_re = re.compile(rf"^(\s*{re.escape(key)}\s*=\s*)(.*)$", re.DOTALL)
    current = None
    for i, line in enumerate(lines):
        header = _HEADER.match(line.rstrip("\r\n"))
        if header:
            current = header.group(1).strip()
            continue
        if current != section:
            continue
        m = key_re.match(line)
        if m:
            rest = m.group(2)
            body = rest.rstrip("\r\n")
            cut = _comment_start(body)
            value = body if cut < 0 else body[:cut]
            # Keep the padding before the comment so the template's comment column stays aligned.
            stripped = value.rstrip()
            tail = value[len(stripped):] + ("" if cut < 0 else body[cut:]) + rest[len(body):]
            return i, m.group(1), stripped, tail
    return None


def set_key(text: str, dotted: str, value: object) -> str:
    """Replace `key = …` in `[section]` (dotted: 'section.key' or 'a.b.key'), keeping its comment."""
    lines = text.splitlines(keepends=True)
    found = _find(lines, dotted)
    if found is None:
        raise KeyError(f"'{dotted}': no such key in the config template")
    i, head, _old, tail = found
    lines[i] = f"{head}{toml_literal(value)}{tail}"
    return "".join(lines)
