"""Read the shipped role templates from disk (core only parses text; the file I/O lives here)."""

from __future__ import annotations

from pathlib import Path

from lion_cli.core.prompts import Template, parse_template
from lion_cli.core.role_prompts import RolePrompts
from lion_cli.resources import resource_dir

# referee_structured: the referee's prompt when its reply comes under a JSON schema (core/reply_schemas.py).
ROLE_TEMPLATES: tuple[str, ...] = ("teacher", "referee", "referee_structured", "generator_hard", "generator_easy")


def load_template(name: str, folder: Path | None = None) -> Template:
    """`prompts/<name>.txt` parsed; errors name the file and line."""
    path = (folder or resource_dir("prompts")) / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"prompt template {path} not found (expected one of "
                                f"{', '.join(t + '.txt' for t in ROLE_TEMPLATES)})")
    return parse_template(path.read_text(encoding="utf-8"), name=str(path))


def load_role_templates(folder: Path | None = None) -> dict[str, Template]:
    """All the role templates, keyed by name (ROLE_TEMPLATES)."""
    return {name: load_template(name, folder) for name in ROLE_TEMPLATES}


def load_role_prompts(folder: Path | None = None) -> RolePrompts:
    """The role templates, ready to render a role's messages."""
    return RolePrompts(load_role_templates(folder))
