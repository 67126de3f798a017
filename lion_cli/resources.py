"""Where lion's shipped text files live: the repo's top-level folders in a checkout or editable
install, `lion_cli/_data/` in a wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`migrations`, `prompts`, … ; raises FileNotFoundError naming both places looked in."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"lion resource folder '{name}' not found in {_PKG / '_data'} or {_PKG.parent}")


def resource_file(name: str) -> Path:
    """A single shipped file, e.g. the commented `lion.toml` template."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"lion resource file '{name}' not found in {_PKG / '_data'} or {_PKG.parent}")
