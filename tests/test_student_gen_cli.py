"""`lion student generate` in both modes, on the tiny model (real generation subprocesses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from lion_cli.cli.student_generate import add_generate_command
from lion_cli.store.db import open_store


@pytest.fixture(scope="module")
def student_cli() -> Any:
    """The `student` sub-app holding only this command, as lion_cli/cli/student.py mounts it."""
    app = typer.Typer()
    student = typer.Typer()
    add_generate_command(student)
    app.add_typer(student, name="student")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["student", *args], catch_exceptions=False)

    return invoke


def test_files_mode_writes_answers_keyed_by_id(student_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "instruction": "Name a colour."},
        {"id": "b", "instruction": "Count to three.", "input": "Use words."},
        {"id": 7, "instruction": "Say hi.", "seed": 3},
    ]))
    out = tmp_path / "out" / "answers.jsonl"
    res = student_cli("generate", "--model", str(tiny_model_dir), "--input", str(inp), "--output", str(out),
                      "--max-new-tokens", "4", "--temperature", "0.8", "--seed", "5", "--json", "-C", str(tmp_path))
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)  # stdout holds the result only; progress went to stderr
    assert summary["rows"] == 3 and summary["output"] == str(out)
    assert "generate: 3/3 rows" in res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", 7]
    assert rows[2]["seed"] == 3 and all(1 <= r["completion_tokens"] <= 4 for r in rows)
    assert summary["completion_tokens"] == sum(r["completion_tokens"] for r in rows)
    spec = json.loads(Path(f"{out}.spec.json").read_text())
    got = (spec["max_new_tokens"], spec["temperature"], spec["base_seed"], spec["prompt_format"])
    assert got == (4, 0.8, 5, "alpaca")


def test_bad_arguments_exit_2_naming_the_problem(student_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": 1, "instruction": "ok"}\n{"id": 2}\n')
    base = ["generate", "--model", str(tiny_model_dir), "--input", str(inp), "--output", str(tmp_path / "o.jsonl"),
            "-C", str(tmp_path)]
    cases = [
        (["generate", "--model", str(tiny_model_dir), "-C", str(tmp_path)], "--model, --input and --output"),
        ([*base], "in.jsonl:2"),
        ([*base, "--prompt-format", "xml"], "--prompt-format xml"),
        ([*base, "--iteration", "0"], "either --iteration"),
        (["generate", "--model", str(tmp_path), "--input", str(inp), "--output", "o", "-C", str(tmp_path)],
         "not a model folder"),
        (["generate", "--temperature", "0.5", "-C", str(tmp_path)], "files mode"),
        (["generate", "-C", str(tmp_path)], "lion.toml"),
    ]
    for args, needle in cases:
        res = student_cli(*args)
        assert res.exit_code == 2, (args, res.stderr)
        assert needle in res.stderr, (needle, res.stderr)


def test_project_mode_stores_cache_pool_answers_and_skips_them_next_time(
        student_cli: Any, lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Name a colour.\nCount to three.\nSay hi.\n", encoding="utf-8")
    root = tmp_path / "p"
    res = lion_cli("init", str(root), "--seed", str(seeds), "--set", "student.launcher=python",
                   "--set", "student.generation.max_new_tokens=4")
    assert res.exit_code == 0, res.stderr
    res = student_cli("generate", "-C", str(root))
    assert res.exit_code == 2 and "no trained student" in res.stderr
    shutil.copytree(tiny_model_dir, root / "students" / "iter-0")
    with open_store(root / "lion.db") as store, store.tx() as c:
        c.execute("UPDATE iterations SET student_path=? WHERE iteration=0", (str(root / "students" / "iter-0"),))

    res = student_cli("generate", "-C", str(root), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["new_answers"] == 3 and json.loads(res.stdout)["iteration"] == 0
    with open_store(root / "lion.db") as store:
        got = store.query("SELECT model, completion_tokens FROM responses WHERE role='student'")
    assert len(got) == 3 and {r[0] for r in got} == {"student-it0"} and all(1 <= r[1] <= 4 for r in got)
    res = student_cli("generate", "--iteration", "0", "-C", str(root), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["new_answers"] == 0
