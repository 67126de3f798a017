"""Read the shipped role templates from disk (core only parses text; the file I/O lives here)."""

from __future__ import annotations

from pathlib import Path

from lion_cli.core.loop_protocol import loop_protocol
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


def protocol_prompts_dir(protocol: str) -> Path:
    """The shipped templates of a loop protocol (core/loop_protocol.py): prompts/paper/ or prompts/."""
    sub = loop_protocol(protocol).prompts_folder
    return resource_dir("prompts") / sub if sub else resource_dir("prompts")


def load_role_prompts(folder: Path | None = None, protocol: str = "lion") -> RolePrompts:
    """The role templates, ready to render a role's messages: from `folder`, else the protocol's."""
    return RolePrompts(load_role_templates(folder or protocol_prompts_dir(protocol)))
