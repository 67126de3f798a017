"""The "Examples" section of a command's help, kept as typed: click rewraps every help paragraph
unless it starts with a \\b line, which would run the command lines together."""

from __future__ import annotations


def examples(*command_lines: str, before: str = "") -> str:
    """An epilog: `before` (e.g. the exit codes) as a wrapped paragraph, then the command lines one per line."""
    block = "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in command_lines)
    return f"{before}\n\n{block}" if before else block
