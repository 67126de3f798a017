"""Set values in a commented TOML template without losing its comments (pure text editing).

The template must already contain every key being set, each on its own `key = value` line under
its `[section]` header; that holds for lion.toml, which documents every key.
"""

from __future__ import annotations

import json
import re


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def set_key(text: str, dotted: str, value: object) -> str:
    """Replace `key = …` in `[section]` (dotted: 'section.key' or 'a.b.key')."""
    section, _, key = dotted.rpartition(".")
    if not section:
        raise KeyError(f"'{dotted}': expected section.key")
    lines = text.splitlines(keepends=True)
    current = None
    key_re = re.compile(rf"^(\s*){re.escape(key)}\s*=\s*[^#\n]*?(\s*#.*)?$")
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[([^\]]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1).strip()
            continue
        if current == section:
            m = key_re.match(line.rstrip("\n"))
            if m:
                comment = m.group(2) or ""
                nl = "\n" if line.endswith("\n") else ""
                lines[i] = f"{m.group(1)}{key} = {toml_literal(value)}{comment}{nl}"
                return "".join(lines)
    raise KeyError(f"'{dotted}': no such key in the config template")
