"""SQL lives in lion_cli/store/ (and migrations/) only: every string constant of every other module
of lion_cli is searched for SQL statements and clauses, and each one found is named by file:line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lion_cli"
STORE = PACKAGE / "store"

# Upper-case keywords as this code base writes SQL: a statement's opening word, or a clause that
# only SQL has (so English text such as "Select a model" or "update the pool" is not taken for SQL).
STATEMENT = re.compile(r"^\s*(SELECT\s|INSERT\s|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|REPLACE\s+INTO\b|CREATE\s|DROP\s"
                       r"|ALTER\s+TABLE\b|PRAGMA\s|WITH\s+\w+\s+AS\b|BEGIN(\s+(IMMEDIATE|DEFERRED|EXCLUSIVE|TRANSACTION))?\s*;?\s*$"
                       r"|COMMIT\s*;?\s*$|ROLLBACK\b|SAVEPOINT\s|RELEASE\s+SAVEPOINT\b|VACUUM\b|ATTACH\s+DATABASE\b"
                       r"|ANALYZE\b|EXPLAIN\s)")
CLAUSE = re.compile(r"\bSELECT\b.*\bFROM\b|\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
                    r"|\bCREATE\s+(UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\b|\bPRAGMA\s+\w+|\bFROM\s+\w+\s+WHERE\b"
                    r"|\bWHERE\s+\w+\s*(=|<|>|!=|\bIN\b|\bIS\b|\bLIKE\b)|\bGROUP\s+BY\b|\bORDER\s+BY\s+\w+", re.S)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that stand alone as statements (docstrings and the like): text
    for readers, never SQL sent to a database."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}


def sql_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string constant that reads as SQL (an f-string's literal parts count),
    one per line, in line order."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                and (STATEMENT.search(node.value) or CLAUSE.search(node.value))):
            found.setdefault(node.lineno, node.value)
    return sorted(found.items())


def sql_outside_store(package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        if path.is_relative_to(package / "store"):
            continue
        for line, text in sql_strings(path.read_text(encoding="utf-8")):
            out.append(f"{path.relative_to(package.parent)}:{line}: {text.strip()[:80]!r}")
    return out


def test_sql_only_in_the_store() -> None:
    found = sql_outside_store()
    assert not found, "SQL outside lion_cli/store/ (move it into a store function):\n" + "\n".join(found)


def test_the_scan_finds_statements_fragments_and_f_strings() -> None:
    source = '''
"""Docstring: SELECT x FROM t is prose here."""
q = "SELECT id FROM instructions WHERE iteration = ?"
w = f"UPDATE stages SET {col}=? WHERE iteration=?"
frag = " FROM api_calls WHERE id > ?"
ins = ("INSERT OR IGNORE INTO pool_members"
       " VALUES (?, ?, ?)")
fine = ["Select a model", "update the pool", "DELETE", "Order by hand", "SELECT-ing", "BEGIN here"]
'''
    assert [line for line, _ in sql_strings(source)] == [3, 4, 5, 6]


def test_the_store_itself_is_full_of_sql() -> None:
    """The scanner recognises the SQL the store really writes (it would otherwise pass vacuously)."""
    hits = sum(len(sql_strings(p.read_text(encoding="utf-8"))) for p in STORE.rglob("*.py"))
    assert hits > 50
