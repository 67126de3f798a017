"""The shape rules of docs/architecture.md that a linter does not check: no import cycle inside
lion_cli, and no function longer than 60 lines. Each failure names the modules or functions."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lion_cli"
MAX_FUNCTION_LINES = 60


def import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Every cycle among modules, as module lists, found with one depth-first walk (Tarjan's
    strongly connected components: any component of two or more modules holds a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.find_modules_directly_imported_by(node) & modules):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_inside_lion_cli() -> None:
    graph = grimp.build_graph("lion_cli")
    modules = {m for m in graph.modules if m.startswith("lion_cli")}
    # A package's __init__ importing its own submodules is not a cycle worth refusing; none do today.
    cycles = import_cycles(graph, modules)
    assert not cycles, "import cycles inside lion_cli:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert import_cycles(graph, {"p.a", "p.b", "p.c"}) == [["p.a", "p.b"]]


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`file:line name (N lines)` for every function or method whose def line to last body line,
    decorators excluded, spans more than `limit` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                span = (node.end_lineno or node.lineno) - node.lineno + 1
                if span > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({span} lines)")
    return found


def test_no_function_over_60_lines() -> None:
    too_long = long_functions(PACKAGE)
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)


def test_length_check_counts_def_to_last_line(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(f"@decorator\ndef long():\n{body}\n\ndef short():\n    return 1\n")
    assert long_functions(tmp_path / "pkg") == ["pkg/m.py:2 long (61 lines)"]
    assert long_functions(tmp_path / "pkg", limit=61) == []


if __name__ == "__main__":  # pragma: no cover - a quick listing while refactoring
    pytest.main([__file__, "-q"])
