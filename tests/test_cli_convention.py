"""One CLI convention for naming the project (lion_cli/cli/project_arg.py): every command takes an optional
PROJECT argument and `-C/--project PATH`, the same folder either way; neither means the current folder;
two different folders at once are exit 2. Walked over every command the Typer app registers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lion_cli.cli.app import app

# The commands that read or write no project at all.
NO_PROJECT = {"serve", "export recover"}
# Those that create their project folder: PROJECT need not exist yet.
CREATES_PROJECT = {"init", "demo"}
# Options a command refuses to start without; dummies are enough to reach the project.
REQUIRED = {"init": ["--seed", "seeds.json"], "rerun": ["--iteration", "0", "--stage", "imitation"],
            "export delta": ["--out", "delta-out"], "export data": ["--out", "data-out.json"],
            "student dpo": ["--pairs", "pairs.jsonl", "--out", "dpo-out"]}
SEED_ROWS = [{"instruction": f"Name {n} things that are blue.", "input": "", "output": "The sky."} for n in range(2, 7)]


def _leaf_commands() -> Iterator[tuple[str, Any]]:
    import typer

    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        subs = getattr(command, "commands", None)
        if subs is None:
            yield " ".join(path), command
            return
        for name, sub in subs.items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


PROJECT_COMMANDS = sorted(name for name, _ in _leaf_commands() if name not in NO_PROJECT)
EXISTING_PROJECT_COMMANDS = [name for name in PROJECT_COMMANDS if name not in CREATES_PROJECT]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _argv(command: str, *project_words: str) -> list[str]:
    return [*command.split(), *REQUIRED.get(command, []), *project_words]


def test_every_command_offers_both_spellings() -> None:
    commands = dict(_leaf_commands())
    assert {"status", "eval bbh", "student train", "export data", "db migrate", "init"} <= set(PROJECT_COMMANDS)
    assert set(commands) >= NO_PROJECT  # the exemptions are real commands, not stale names
    for name in PROJECT_COMMANDS:
        params = commands[name].params
        arguments = [p for p in params if p.param_type_name == "argument"]
        options = [p for p in params if p.param_type_name == "option" and "-C" in p.opts]
        assert [a.metavar for a in arguments] == ["PROJECT"] and not arguments[0].required, name
        assert len(options) == 1 and set(options[0].opts) == {"-C", "--project"}, name
    for name in NO_PROJECT:
        assert not any("-C" in p.opts for p in commands[name].params), name


@pytest.mark.parametrize("command", EXISTING_PROJECT_COMMANDS)
def test_each_spelling_and_the_current_folder_name_the_same_folder(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside any project the command refuses, and says the same whichever way the folder was named."""
    empty = tmp_path / "not-a-project"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    by_argument = _invoke(*_argv(command, str(empty)))
    by_option = _invoke(*_argv(command, "-C", str(empty)))
    monkeypatch.chdir(empty)
    by_cwd = _invoke(*_argv(command))
    assert by_argument.exit_code == by_option.exit_code == by_cwd.exit_code == 2, by_argument.stderr
    assert by_argument.stderr == by_option.stderr == by_cwd.stderr
    if command != "student dpo":  # it asks for --model before it looks for a project
        assert str(empty.resolve()) in by_argument.stderr, by_argument.stderr


@pytest.mark.parametrize("command", PROJECT_COMMANDS)
def test_two_different_folders_are_refused(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Folders holding a file of the user's: were the check missing, init and demo would refuse them at once
    # (not a project, not a demo folder) instead of building a project or running a whole demo.
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "keep.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    result = _invoke(*_argv(command, "--scripted", str(tmp_path / "one"), "-C", str(tmp_path / "two"))
                     if command == "demo" else _argv(command, str(tmp_path / "one"), "-C", str(tmp_path / "two")))
    assert result.exit_code == 2
    assert "named twice" in result.stderr and "one" in result.stderr and "two" in result.stderr
    assert [p.name for p in tmp_path.glob("*/*")] == ["keep.txt", "keep.txt"]  # nothing written in either


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("convention")
    seeds = root / "seeds.json"
    seeds.write_text(json.dumps(SEED_ROWS), encoding="utf-8")
    made = _invoke("init", str(root / "proj"), "--seed", str(seeds), "--json")
    assert made.exit_code == 0, made.stderr
    return root / "proj"


@pytest.mark.parametrize("command", [["status", "--json"], ["plan", "--json"], ["db", "status", "--json"],
                                     ["check", "--json"]])
def test_a_real_project_reads_the_same_every_way(
        command: list[str], project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.parent)
    by_argument = _invoke(*command, str(project))
    by_option = _invoke(*command, "--project", str(project))
    agreeing_pair = _invoke(*command, "proj", "-C", str(project))  # the same folder twice is no conflict
    monkeypatch.chdir(project)
    by_cwd = _invoke(*command)
    assert by_argument.exit_code in (0, 2)  # check: exit 2 for the unset base model and key, the same each way
    assert by_argument.exit_code == by_option.exit_code == agreeing_pair.exit_code == by_cwd.exit_code
    assert json.loads(by_argument.stdout) == json.loads(by_option.stdout) == json.loads(by_cwd.stdout)
    assert json.loads(agreeing_pair.stdout) == json.loads(by_argument.stdout)
    if command[0] == "status":
        assert json.loads(by_cwd.stdout)["dir"] == str(project.resolve())


def test_export_writes_the_same_data_either_way(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.parent)
    out_argument, out_option = project.parent / "by-argument.json", project.parent / "by-option.json"
    assert _invoke("export", "data", "proj", "--out", str(out_argument), "--no-pairs").exit_code == 0
    assert _invoke("export", "data", "-C", "proj", "--out", str(out_option), "--no-pairs").exit_code == 0
    assert out_argument.read_text() == out_option.read_text()


def test_init_makes_the_same_project_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps(SEED_ROWS), encoding="utf-8")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(tmp_path)
    results = [_invoke("init", "a", "--seed", str(seeds), "--name", "n", "--json"),
               _invoke("init", "-C", "b", "--seed", str(seeds), "--name", "n", "--json")]
    monkeypatch.chdir(here)
    results.append(_invoke("init", "--seed", str(seeds), "--name", "n", "--json"))
    assert [r.exit_code for r in results] == [0, 0, 0]
    made = [json.loads(r.stdout) for r in results]
    assert [m["project"] for m in made] == [str(tmp_path / "a"), str(tmp_path / "b"), str(here)]
    assert {m["seeds"] for m in made} == {len(SEED_ROWS)}
    toml = {(folder / "lion.toml").read_text() for folder in (tmp_path / "a", tmp_path / "b", here)}
    assert len(toml) == 1
