"""`lion check`: all problems at once, --json, a pasted key never echoed, and the probe (GET /models,
then one max_tokens=1 request per endpoint, only when everything else passed)."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.check_support import copy_project, fingerprint, make_ready_project, set_toml, write_model_folder
from tests.llm_support import loopback, stats

PASTED_KEY = "sk-live-Zq8XwT1pLr5Nv7Bc3Dm9Kf2Hj6Gs4Aa0Ee"


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The check remembers model folders that loaded in lion's cache: never the user's here."""
    monkeypatch.setenv("LION_CACHE_DIR", str(tmp_path / "lion-cache"))
    return tmp_path / "lion-cache"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with loopback() as url:
        yield url


@pytest.fixture(scope="module")
def ready_project(server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ready")
    return make_ready_project(root, server, write_model_folder(root / "model"))


@pytest.fixture
def project(ready_project: Path, tmp_path: Path) -> Path:
    return copy_project(ready_project, tmp_path / "p")


def test_every_problem_is_reported_at_once(project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    set_toml(project, "student.base_model", "")
    set_toml(project, "student.strategy", "zero9")
    set_toml(project, "teacher.api_key_env", "LION_CHECK_NOT_SET_ANYWHERE")
    set_toml(project, "project.data_dir", "missing-data")
    result = lion_cli("check", str(project))
    assert result.exit_code == 2
    keys = ("student.base_model", "student.strategy", "teacher.api_key_env", "project.data_dir")
    problem_lines = [ln for ln in result.stderr.splitlines() if ln.startswith(str(project))]
    assert len(problem_lines) == 4, result.stderr
    for key in keys:
        assert any(f"key '{key}'" in ln for ln in problem_lines), key


def test_type_errors_and_value_errors_come_together(project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    """A pydantic type error elsewhere must not hide a URL without a host."""
    set_toml(project, "loop.tau", "high")
    set_toml(project, "referee.base_url", "https://")
    result = lion_cli("check", str(project), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert {p["key"] for p in report["problems"]} == {"loop.tau", "referee.base_url"}
    assert report["ok"] is False and report["probed"] is False
    assert all(p["file"] == str(project / "lion.toml") for p in report["problems"])


def test_json_of_a_ready_project(project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    result = lion_cli("check", str(project), "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout) == {"project": str(project), "ok": True, "probed": False, "problems": [],
                                         "notes": []}


@pytest.mark.parametrize("command", ["check", "status", "run", "resume"])
def test_a_pasted_key_is_refused_and_never_echoed(project: Path, command: str, lion_cli) -> None:  # type: ignore[no-untyped-def]
    set_toml(project, "referee.api_key_env", PASTED_KEY)
    before = fingerprint(project)
    result = lion_cli(command, str(project))
    assert result.exit_code == 2
    assert "api_key_env must name an environment variable, not hold the key" in result.stderr
    assert "referee.api_key_env" in result.stderr
    assert PASTED_KEY not in result.stdout + result.stderr
    assert PASTED_KEY[3:15] not in result.stdout + result.stderr  # not even a piece of it
    assert fingerprint(project) == before
    conn = sqlite3.connect(project / "lion.db")
    try:
        dumped = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert PASTED_KEY not in dumped


def test_probe_of_a_ready_project_sends_two_tiny_requests(project: Path, server: str, lion_cli) -> None:  # type: ignore[no-untyped-def]
    before = stats(server, log=True)
    result = lion_cli("check", str(project), "--probe")
    assert result.exit_code == 0, result.stderr
    assert "every endpoint answered" in result.stdout
    after = stats(server, log=True)
    # teacher, referee and generator share one base URL, key and model: one chat request of max_tokens 1,
    # and one structured-replies probe, answered in the first shape tried.
    assert after["requests"] - before["requests"] == 2
    assert after["tokens"] - before["tokens"] <= 60  # a five-word prompt, then {"ok": true} under a schema
    note = next(line for line in result.stderr.splitlines() if line.startswith("note: referee, generator:"))
    assert "structured replies in the json_schema shape" in note, result.stderr


@pytest.mark.parametrize(("key", "value", "named", "says"), [
    ("teacher.model", "gpt-imaginary", "teacher.model", "'gpt-imaginary' is not among the models"),
    ("generator.base_url", "base-without-v1", "generator.base_url", "/v1"),
    ("referee.base_url", "http://127.0.0.1:9/v1", "referee.base_url", "cannot reach"),
])
def test_probe_failures_name_the_key_and_cost_nothing(  # type: ignore[no-untyped-def]
        project: Path, server: str, key: str, value: str, named: str, says: str, lion_cli) -> None:
    if value == "base-without-v1":
        value = server.removesuffix("/v1")
    set_toml(project, key, value)
    before = stats(server)["requests"]
    result = lion_cli("check", str(project), "--probe")
    assert result.exit_code == 2, result.stdout
    line = next(ln for ln in result.stderr.splitlines() if f"key '{named}'" in ln)
    assert says in line, result.stderr
    assert stats(server)["requests"] == before  # /models is free; no chat request was sent


def test_no_probe_while_an_offline_check_fails(project: Path, server: str, lion_cli) -> None:  # type: ignore[no-untyped-def]
    set_toml(project, "student.base_model", "")
    before = stats(server)["requests"]
    result = lion_cli("check", str(project), "--probe", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["probed"] is False
    assert stats(server)["requests"] == before


def test_probe_with_a_refused_key_names_the_variable_not_the_key(  # type: ignore[no-untyped-def]
        project: Path, monkeypatch: pytest.MonkeyPatch, lion_cli) -> None:
    wrong = "wrong-key-0123456789abcdefghij"
    monkeypatch.setenv("LION_CHECK_TEST_KEY", wrong)
    with loopback(api_key="the-right-key") as url:
        for role in ("teacher", "referee", "generator"):
            set_toml(project, f"{role}.base_url", url)
            set_toml(project, f"{role}.api_key_env", "LION_CHECK_TEST_KEY")
        result = lion_cli("check", str(project), "--probe")
    assert result.exit_code == 2
    assert "refused the key in $LION_CHECK_TEST_KEY (401" in result.stderr
    assert "key 'teacher.api_key_env'" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_check_reads_without_writing(project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(project)
    assert lion_cli("check", str(project)).exit_code == 0
    assert fingerprint(project) == before


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed: no note to give")
def test_a_note_is_not_a_problem(project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    set_toml(project, "student.generation.backend", "vllm")
    result = lion_cli("check", str(project), "--json")
    assert result.exit_code == 0
    assert any("vllm" in note for note in json.loads(result.stdout)["notes"])


def test_a_model_folder_that_loaded_is_not_loaded_again_until_it_changes(  # type: ignore[no-untyped-def]
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lion_cli) -> None:
    from lion_cli.preflight import student

    loads: list[str] = []
    real = student._load_model_files
    monkeypatch.setattr(student, "_load_model_files", lambda ref: loads.append(ref) or real(ref))
    model = write_model_folder(tmp_path / "own-model")
    set_toml(project, "student.base_model", str(model))
    for _ in range(2):
        assert lion_cli("check", str(project)).exit_code == 0
    assert loads == [str(model)]
    (model / "tokenizer.json").write_text("{not json", encoding="utf-8")  # the folder changed
    result = lion_cli("check", str(project))
    assert result.exit_code == 2 and "its tokenizer does not load" in result.stderr
    write_model_folder(model)  # fixed: looked at again (a failure was not remembered), then remembered
    assert lion_cli("check", str(project)).exit_code == 0
    assert lion_cli("check", str(project)).exit_code == 0
    assert len(loads) == 3


def test_a_missing_seed_file_is_a_note_once_lion_db_holds_the_seeds(project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    """`lion init` read the seeds into lion.db: a copied project, or a seed file deleted since, runs."""
    from lion_cli.cli.check import refuse_unless_ready

    set_toml(project, "project.seed_file", "gone/seeds.jsonl")
    result = lion_cli("check", str(project), "--json")
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert any("project.seed_file" in note and "24 seeds" in note for note in report["notes"]), report["notes"]
    refuse_unless_ready(project)  # what `lion run` and `lion resume` ask first: no exit

    conn = sqlite3.connect(project / "lion.db")  # a store without its seeds: then the file is needed
    with conn:
        conn.execute("DELETE FROM pool_members")
        conn.execute("DELETE FROM instructions")
    conn.close()
    result = lion_cli("check", str(project))
    assert result.exit_code == 2 and "key 'project.seed_file'" in result.stderr, result.stderr
