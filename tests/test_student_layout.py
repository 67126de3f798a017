"""The student package's rules that hold for modules added later too: the subprocess scripts import
nothing of lion but each other and the specs, the specs import the standard library only, and a
prompt becomes token ids in one place."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[1] / "lion_cli"
SCRIPTS = "lion_cli.student.scripts"
SPECS = "lion_cli.student.specs"


def test_scripts_import_only_scripts_and_specs() -> None:
    graph = grimp.build_graph("lion_cli")
    scripts = {SCRIPTS} | graph.find_descendants(SCRIPTS)
    assert f"{SCRIPTS}.train" in scripts and f"{SCRIPTS}.generate" in scripts
    allowed = scripts | {SPECS} | graph.find_descendants(SPECS)
    wrong = sorted(f"{module} imports {imported}" for module in scripts
                   for imported in graph.find_modules_directly_imported_by(module) if imported not in allowed)
    assert wrong == []


def test_specs_import_the_standard_library_only() -> None:
    imported: set[str] = set()
    for path in sorted((PACKAGE / "student" / "specs").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "lion_cli.student.specs.base" in imported  # the walk saw the package's own modules
    outside = sorted(m for m in imported if m.split(".")[0] not in sys.stdlib_module_names | {"__future__"}
                     and not m.startswith(f"{SPECS}."))
    assert outside == []


def test_prompts_become_token_ids_in_one_module() -> None:
    """Training, generation, scoring and serving share scripts/prompt.py; a chat template applied
    anywhere else would be a second way to lay out a prompt."""
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if "apply_chat_template(" in p.read_text(encoding="utf-8"))
    assert users == ["student/scripts/prompt.py"]
