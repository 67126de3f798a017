"""The white-box distillation settings: [student] objective, skew_alpha and teacher_model refused with
the key named (config.py and the train spec), carried into the train spec, and `lion check` refusing a
teacher whose tokenizer is not the student's, saying what differs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lion_cli.config import ConfigError, parse_settings
from lion_cli.pipeline.student_specs import specs_from_settings
from lion_cli.preflight.teacher_model import teacher_model_findings, vocabulary_difference
from lion_cli.student.specs import SpecError, TrainSpec
from tests.check_support import copy_project, make_ready_project, set_toml, write_model_folder
from tests.llm_support import loopback


def problems(student: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"student": student})
    return str(caught.value)


def test_config_names_the_key_of_each_bad_setting() -> None:
    assert "student.objective" in problems({"objective": "js"})
    assert "student.skew_alpha" in problems({"objective": "skew_kl", "skew_alpha": 1.5, "teacher_model": "t"})
    assert "student.skew_alpha" in problems({"skew_alpha": -0.1})
    missing = problems({"objective": "skew_rkl"})
    assert "student.teacher_model" in missing and "skew_rkl" in missing
    # sft needs no teacher; the default α is DistiLLM's.
    assert parse_settings({}).student.skew_alpha == 0.1
    assert parse_settings({"student": {"objective": "kl", "teacher_model": "t"}}).student.objective == "kl"


def test_settings_reach_the_train_spec_with_the_teacher_resolved(tmp_path: Path) -> None:
    teacher = write_model_folder(tmp_path / "teacher")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n", encoding="utf-8")
    settings = parse_settings({"student": {"objective": "skew_kl", "skew_alpha": 0.25, "teacher_model": "teacher"}})
    spec, _ = specs_from_settings(settings, model_path="m", data_path=rows, output_dir=tmp_path / "out",
                                  project_dir=tmp_path)
    assert (spec.objective, spec.skew_alpha, spec.teacher_model) == ("skew_kl", 0.25, str(teacher))
    spec.validate()
    assert TrainSpec.from_json(spec.to_json()).teacher_model == str(teacher)


def test_the_train_spec_refuses_a_teacher_that_cannot_work(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n", encoding="utf-8")
    base = {"model_path": "m", "data_path": str(rows), "output_dir": str(tmp_path / "o")}
    with pytest.raises(SpecError, match=r"'teacher_model'.*needs a teacher: the folder of a local teacher model"):
        TrainSpec(**base, objective="kl").validate()
    (tmp_path / "not_a_model").mkdir()
    with pytest.raises(SpecError, match=r"'teacher_model'.*not a model folder"):
        TrainSpec(**base, objective="kl", teacher_model=str(tmp_path / "not_a_model")).validate()
    with pytest.raises(SpecError, match="'skew_alpha'"):
        TrainSpec(**base, skew_alpha=2.0).validate()


def test_vocabulary_difference_says_what_differs() -> None:
    same = {"a": 0, "b": 1, "c": 2}
    assert vocabulary_difference(same, dict(same)) is None
    assert "vocab size differs" in str(vocabulary_difference(same, {"a": 0, "b": 1}))
    assert "3 tokens" in str(vocabulary_difference(same, {"a": 0, "b": 1}))
    swapped = vocabulary_difference(same, {"a": 0, "c": 1, "b": 2})
    assert swapped == ("2 token(s) differ: id 1 is 'b' for the teacher, 'c' for the student, "
                       "id 2 is 'c' for the teacher, 'b' for the student")


def swap_first_words(folder: Path) -> Path:
    """The folder's tokenizer with the ids of 'the' and 'a' exchanged: same size, other tokens."""
    path = folder / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    vocab["the"], vocab["a"] = vocab["a"], vocab["the"]
    path.write_text(json.dumps(data), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with loopback() as url:
        yield url


def test_lion_check_refuses_a_teacher_with_another_tokenizer(server: str, tmp_path: Path, lion_cli,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LION_CACHE_DIR", str(tmp_path / "lion-cache"))
    (tmp_path / "ready").mkdir()
    ready = make_ready_project(tmp_path / "ready", server, write_model_folder(tmp_path / "model"))
    project = copy_project(ready, tmp_path / "p")
    write_model_folder(project / "same")
    swap_first_words(write_model_folder(project / "other"))
    set_toml(project, "student.objective", "skew_kl")
    set_toml(project, "student.teacher_model", "same")
    assert lion_cli("check", str(project)).exit_code == 0
    set_toml(project, "student.teacher_model", "other")
    result = lion_cli("check", str(project))
    assert result.exit_code == 2
    assert "student.teacher_model" in result.stdout + result.stderr
    assert "id 3 is 'a' for the teacher, 'the' for the student" in result.stdout + result.stderr


def test_teacher_findings_name_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    settings = parse_settings({"student": {"objective": "kl", "teacher_model": "t"}}).student
    assert "no such folder" in teacher_model_findings(settings, tmp_path)[0][1]
    (tmp_path / "t").mkdir()
    assert teacher_model_findings(settings, tmp_path) == [
        ("teacher_model", f"{tmp_path / 't'} is not a model folder (no config.json)")]
