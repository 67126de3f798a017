"""`lion init`: every seed format, duplicates, the iteration-0 pools, --force, --set, and malformed
input refused with file:line (or key), exit 2 and nothing written."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lion_cli.config import load_settings
from lion_cli.core.types import Pool
from lion_cli.store.db import open_store
from lion_cli.store.pools import pool_ids

REPO = Path(__file__).resolve().parents[1]
SEED_TASKS = REPO.parent / "shared" / "data" / "alpaca" / "seed_tasks.jsonl"
TEMPLATE = REPO / "lion.toml"

ALPACA_ROWS = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
    {"instruction": "Translate to French.", "input": "Good night", "output": "Bonne nuit"},  # other input: kept
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Sleep."},  # duplicate
    {"instruction": "Name a prime number larger than 10.", "input": "", "output": "11"},
]


def _db_rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(project / "lion.db")
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def _check_project(project: Path, expected: list[tuple[str, str]], name: str) -> None:
    """The store holds exactly `expected` (instruction, input) as seeds, all in both pools of iteration 0."""
    rows = _db_rows(project, "SELECT id, text, input, origin, iteration FROM instructions ORDER BY id")
    assert [(r[1], r[2]) for r in rows] == expected
    assert {(r[3], r[4]) for r in rows} == {("seed", 0)}
    with open_store(project / "lion.db", readonly=True) as store:
        ids = [r[0] for r in rows]
        assert pool_ids(store, 0, Pool.TRAIN) == ids
        assert pool_ids(store, 0, Pool.CACHE) == ids
        assert store.scalar("SELECT name FROM project") == name
        assert store.scalar("SELECT COUNT(*) FROM iterations WHERE iteration = 0") == 1
        assert store.scalar("SELECT COUNT(*) FROM pool_members WHERE iteration <> 0") == 0
    assert load_settings(project).project.name == name


def test_alpaca_json_array(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "alpaca_data.json"
    seed.write_text(json.dumps(ALPACA_ROWS, indent=2), encoding="utf-8")
    project = tmp_path / "proj"
    result = lion_cli("init", str(project), "--seed", str(seed), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"project": str(project), "seeds": 4, "duplicates": 1, "format": "json"}
    expected = [(r["instruction"], r["input"]) for i, r in enumerate(ALPACA_ROWS) if i != 3]
    _check_project(project, expected, "proj")
    # the seed file's outputs are kept for reference (never trained on)
    assert _db_rows(project, "SELECT seed_output FROM instructions WHERE input='Good night'") == [("Bonne nuit",)]
    assert load_settings(project).project.seed_file == str(seed)


def test_jsonl(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "seeds.jsonl"
    seed.write_text("\n".join(json.dumps(r) for r in ALPACA_ROWS) + "\n\n", encoding="utf-8")
    result = lion_cli("init", str(tmp_path / "p"), "--seed", str(seed), "--name", "my-run")
    assert result.exit_code == 0, result.stderr
    assert "4 seed instructions (jsonl), 1 exact duplicates dropped" in result.stderr
    assert result.stdout.startswith("created ")
    _check_project(tmp_path / "p", [(r["instruction"], r["input"]) for i, r in enumerate(ALPACA_ROWS) if i != 3],
                   "my-run")


def test_self_instruct_seed_tasks(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    project = tmp_path / "si"
    result = lion_cli("init", str(project), "--seed", str(SEED_TASKS), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["seeds"] == 175
    assert json.loads(result.stdout)["duplicates"] == 0
    assert json.loads(result.stdout)["format"] == "self-instruct"
    tasks = [json.loads(line) for line in SEED_TASKS.read_text(encoding="utf-8").splitlines() if line.strip()]
    expected = [(t["instruction"].strip(), t["instances"][0]["input"].strip()) for t in tasks]
    _check_project(project, expected, "si")
    first = _db_rows(project, "SELECT seed_output FROM instructions ORDER BY id LIMIT 1")[0][0]
    assert first == tasks[0]["instances"][0]["output"].strip()


def test_plain_text(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "seeds.txt"
    # a .txt line may start with '[' or '{' and is still just text
    seed.write_text("Write a haiku about rain.\n\n[Draft] Summarise the article.\n"
                    "Write a haiku about rain.\n{Name} three rivers.\r\n", encoding="utf-8")
    result = lion_cli("init", str(tmp_path / "t"), "--seed", str(seed), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["duplicates"] == 1
    _check_project(tmp_path / "t", [("Write a haiku about rain.", ""), ("[Draft] Summarise the article.", ""),
                                    ("{Name} three rivers.", "")], "t")


def test_json_lines_under_a_json_name_and_a_bom(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "seeds.json"
    seed.write_bytes(b"\xef\xbb\xbf" + b'{"instruction": "A"}\n{"instruction": "B"}\n')
    result = lion_cli("init", str(tmp_path / "p"), "--seed", str(seed), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "jsonl"
    _check_project(tmp_path / "p", [("A", ""), ("B", "")], "p")


def _make_project(tmp_path: Path, lion_cli, rows: list[str]) -> Path:  # type: ignore[no-untyped-def]
    seed = tmp_path / "first.txt"
    seed.write_text("\n".join(rows) + "\n", encoding="utf-8")
    project = tmp_path / "proj"
    result = lion_cli("init", str(project), "--seed", str(seed))
    assert result.exit_code == 0, result.stderr
    return project


def test_refuses_an_existing_project_without_force(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    project = _make_project(tmp_path, lion_cli, ["One thing.", "Another thing."])
    before = {p.name: p.read_bytes() for p in project.iterdir()}
    other = tmp_path / "second.txt"
    other.write_text("A new seed.\n", encoding="utf-8")
    result = lion_cli("init", str(project), "--seed", str(other))
    assert result.exit_code == 2
    assert "already a lion project" in result.stderr and "--force" in result.stderr
    assert {p.name: p.read_bytes() for p in project.iterdir()} == before

    result = lion_cli("init", str(project), "--seed", str(other), "--force", "--set", "loop.tau=1.5")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["lion.db", "lion.toml"]  # no temp folder, no stale WAL
    _check_project(project, [("A new seed.", "")], "proj")
    assert load_settings(project).loop.tau == 1.5


def test_set_overrides_land_in_lion_toml_and_keep_comments(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "s.txt"
    seed.write_text("Do a thing.\n", encoding="utf-8")
    project = tmp_path / "p"
    sets = ["loop.tau=1.5", "teacher.base_url=http://127.0.0.1:8000/v1#frag", "student.lora.r=16",
            "student.lora.target_modules=[\"q_proj\", \"v_proj\"]", "student.tf32=false",
            "project.data_dir=bench data", "referee.model=\"gpt-4o\"", "generator.model=123"]
    args = [a for s in sets for a in ("--set", s)]
    result = lion_cli("init", str(project), "--seed", str(seed), *args)
    assert result.exit_code == 0, result.stderr
    s = load_settings(project)
    assert s.loop.tau == 1.5
    assert s.teacher.base_url == "http://127.0.0.1:8000/v1#frag"
    assert s.student.lora.r == 16 and s.student.lora.target_modules == ["q_proj", "v_proj"]
    assert s.student.tf32 is False
    assert s.project.data_dir == "bench data"
    assert (s.referee.model, s.generator.model) == ("gpt-4o", "123")  # a string key takes the text as it is
    assert s.teacher.max_tokens == 1024  # untouched keys keep their defaults

    written = (project / "lion.toml").read_text(encoding="utf-8").splitlines()
    template = TEMPLATE.read_text(encoding="utf-8").splitlines()
    assert len(written) == len(template)
    changed = [(a, b) for a, b in zip(template, written, strict=True) if a != b]
    assert len(changed) == len(sets) + 2  # + project.name and project.seed_file, which init always sets
    for old, new in zip(template, written, strict=True):
        if old.lstrip().startswith("#") or not old.strip():
            assert new == old  # comment lines and blank lines as they were
        elif "#" in old:
            assert new.endswith(old[old.index("#"):]), (old, new)  # the key's own comment kept


def test_set_project_name_wins_over_the_folder_name(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "s.txt"
    seed.write_text("Do a thing.\n", encoding="utf-8")
    result = lion_cli("init", str(tmp_path / "p"), "--seed", str(seed), "--set", "project.name=Ünïcode 😀 \"q\"")
    assert result.exit_code == 0, result.stderr
    assert load_settings(tmp_path / "p").project.name == "Ünïcode 😀 \"q\""


# (file name, content, the line the error must name, a phrase the reason must contain)
MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("bad.json", b'[\n {"instruction": "a"},\n {"instruction": "b",}\n]\n', 3, "invalid JSON"),
    ("bad.jsonl", b'{"instruction": "a"}\n{not json\n', 2, "invalid JSON"),
    ("nofield.jsonl", b'{"instruction": "a"}\n{"input": "x", "output": "y"}\n', 2, "missing field 'instruction'"),
    ("empty_instr.json", b'[\n {"instruction": "a"},\n {"instruction": "   "}\n]', 3, "empty instruction"),
    ("latin1.txt", "Write a poem.\nCafé menu\n".encode("latin-1"), 2, "not UTF-8"),
    ("utf16.txt", "Write a poem.\n".encode("utf-16"), 1, "not UTF-8"),
    ("rows.jsonl", b'{"instruction": "a"}\n["a", "b"]\n', 2, "expected a JSON object, got list"),
    ("strfirst.json", b'[\n "just text",\n {"instruction": "a"}\n]', 2, "expected a JSON object, got str"),
    ("late_str.json", b'[\n {"instruction": "a"},\n\n 42\n]', 4, "expected a JSON object, got int"),
    ("notstr.jsonl", b'{"instruction": 5}\n', 1, "'instruction' must be a string"),
    ("inputlist.jsonl", b'{"instruction": "a", "input": ["x"]}\n', 1, "'input' must be a string"),
    ("empty.txt", b"", 1, "no instructions found"),
    ("blank.txt", b"\n  \n\t\n", 1, "no instructions found"),
    ("emptyarr.json", b"[]\n", 1, "no instructions found"),
    ("object.json", b'{\n "instruction": "a"\n}\n', 1, "expected a JSON array"),
    ("binary.txt", b"Write a poem.\nab\x00cd\n", 2, "NUL byte"),
    ("tasks.jsonl", b'{"instruction": "a", "instances": [{"input": "", "output": "x"}]}\n{"instruction": "b"}\n',
     2, "missing field 'instances'"),
    ("noinst.jsonl", b'{"instruction": "a", "instances": []}\n', 1, "'instances' must be a non-empty list"),
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("name", "content", "line", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_seed_file(tmp_path: Path, lion_cli, name: str, content: bytes, line: int,  # type: ignore[no-untyped-def]
                             reason: str) -> None:
    seed = tmp_path / name
    seed.write_bytes(content)
    fresh = tmp_path / "fresh"
    result = lion_cli("init", str(fresh), "--seed", str(seed))
    assert result.exit_code == 2
    assert f"{seed}:{line}: " in result.stderr and reason in result.stderr, result.stderr
    assert result.stdout == ""
    assert not fresh.exists()  # not even an empty folder

    # an existing project survives a failed --force re-init byte for byte
    project = _make_project(tmp_path, lion_cli, ["Keep me."])
    before = _snapshot(project)
    result = lion_cli("init", str(project), "--seed", str(seed), "--force")
    assert result.exit_code == 2 and f"{seed}:{line}: " in result.stderr
    assert _snapshot(project) == before


@pytest.mark.parametrize(("setting", "names"), [
    ("student.lora.rank=4", "'student.lora.rank'"),
    ("wandb.project=x", "'wandb.project'"),
    ("tau=1.0", "expected section.key"),
    ("loop.tau", "expected section.key=value"),
    ("loop.tau=abc", "key 'loop.tau'"),
    ("loop.iterations=0", "key 'loop.iterations'"),
    ("teacher.base_url=ftp://host", "key 'teacher.base_url'"),
    ("student.launcher=slurm", "key 'student.launcher'"),
    ("loop.tau=null", "expected a number"),
    ("student.lora.enabled=\"yes\"", "key 'student.lora.enabled'"),
])
def test_bad_set(tmp_path: Path, lion_cli, setting: str, names: str) -> None:  # type: ignore[no-untyped-def]
    seed = tmp_path / "s.txt"
    seed.write_text("Do a thing.\n", encoding="utf-8")
    fresh = tmp_path / "fresh"
    result = lion_cli("init", str(fresh), "--seed", str(seed), "--set", setting)
    assert result.exit_code == 2
    assert names in result.stderr, result.stderr
    assert not fresh.exists()
    if "key '" in names:  # a validation error names the file it would have written
        assert str(fresh / "lion.toml") in result.stderr

    project = _make_project(tmp_path, lion_cli, ["Keep me."])
    before = _snapshot(project)
    assert lion_cli("init", str(project), "--seed", str(seed), "--force", "--set", setting).exit_code == 2
    assert _snapshot(project) == before


def test_missing_seed_file_and_file_as_folder(tmp_path: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    result = lion_cli("init", str(tmp_path / "p"), "--seed", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and f"{tmp_path / 'nope.json'}: seed file not found" in result.stderr
    assert not (tmp_path / "p").exists()
    seed = tmp_path / "s.txt"
    seed.write_text("Do a thing.\n", encoding="utf-8")
    blocker = tmp_path / "afile"
    blocker.write_text("x", encoding="utf-8")
    result = lion_cli("init", str(blocker), "--seed", str(seed))
    assert result.exit_code == 2 and "not a folder" in result.stderr


def test_real_process_exit_codes(tmp_path: Path) -> None:
    """The same through a real `lion` process: exit 2 on bad input, 0 and a usable project otherwise."""
    lion = [sys.executable, "-m", "lion_cli"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "ok"}\n{"instruction": ""}\n', encoding="utf-8")
    proc = subprocess.run([*lion, "init", str(tmp_path / "p"), "--seed", str(bad)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and f"{bad}:2: empty instruction" in proc.stderr
    proc = subprocess.run([*lion, "init", str(tmp_path / "p"), "--seed", str(SEED_TASKS), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["seeds"] == 175
