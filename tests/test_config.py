"""lion.toml → Settings: the shipped example, the paper's defaults, and errors that name file, line, key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner

from lion_cli.cli.common import open_project
from lion_cli.config import ConfigError, Settings, load_settings, parse_settings
from lion_cli.core.types import Role

REPO_TOML = Path(__file__).resolve().parents[1] / "lion.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lion.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def _model_keys(model: type[Any], prefix: str = "") -> set[str]:
    """Every leaf key of a settings section: a pydantic model's fields, or a dataclass's (the
    endpoint sections are core.api.EndpointSpec)."""
    if dataclasses.is_dataclass(model):
        return {prefix + f.name for f in dataclasses.fields(model)}
    keys = set()
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and (issubclass(sub, BaseModel) or dataclasses.is_dataclass(sub)):
            keys |= _model_keys(sub, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _toml_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for name, value in data.items():
        keys |= _toml_keys(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name}
    return keys


def test_repo_lion_toml_equals_the_defaults() -> None:
    loaded = load_settings(REPO_TOML).model_dump()
    defaults = Settings().model_dump()
    loaded.pop("project")
    defaults.pop("project")
    assert loaded == defaults


def test_repo_lion_toml_shows_every_key() -> None:
    # Equality above would also hold if a key were missing (it falls back to its default).
    data = tomllib.loads(REPO_TOML.read_text(encoding="utf-8"))
    assert _toml_keys(data) == _model_keys(Settings)


def test_paper_defaults() -> None:
    s = Settings()
    assert (s.loop.tau, s.loop.novelty_threshold, s.loop.hard_ratio) == (1.0, 0.7, 0.5)
    assert (s.loop.iterations, s.loop.new_per_iteration) == (3, 6000)
    assert (s.teacher.temperature, s.teacher.max_tokens) == (0.7, 1024)
    assert (s.referee.temperature, s.referee.max_tokens) == (0.2, 512)
    assert s.generator.temperature == 1.0
    st = s.student
    assert (st.lr, st.epochs, st.warmup_ratio, st.weight_decay) == (2e-5, 3.0, 0.03, 0.0)
    assert (st.global_batch_size, st.max_length, st.lr_scheduler) == (128, 1024, "cosine")
    assert (st.generation.temperature, st.generation.max_new_tokens) == (0.7, 1024)


def test_endpoint_per_role() -> None:
    s = Settings()
    assert s.endpoint(Role.REFEREE) is s.referee
    assert s.endpoint("generator") is s.generator
    with pytest.raises(KeyError):
        s.endpoint(Role.STUDENT)


@pytest.mark.parametrize(("toml", "key"), [
    ("wandb = true\n", "wandb"),
    ("[loop]\ntua = 1.0\n", "loop.tua"),
    ("[student.lora]\nrank = 8\n", "student.lora.rank"),
    ("[student.generation]\nbeams = 4\n", "student.generation.beams"),
    ("[teachr]\nmodel = 'x'\n", "teachr"),
])
def test_unknown_keys_are_errors_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = _write(tmp_path, toml)
    msg = _error(path)
    assert f"unknown key '{key}'" in msg
    assert str(path) in msg


@pytest.mark.parametrize(("toml", "key", "shown"), [
    ('[loop]\niterations = "three"\n', "loop.iterations", "'three'"),
    ('[loop]\ntau = "1.0"\n', "loop.tau", "'1.0'"),          # strict: a quoted number is a mistake
    ("[loop]\niterations = 2.5\n", "loop.iterations", "2.5"),
    ("[student]\ntf32 = 1\n", "student.tf32", "1"),
    ("[student]\nlauncher = 'slurm'\n", "student.launcher", "'slurm'"),
    ("[student.lora]\ntarget_modules = 'q_proj'\n", "student.lora.target_modules", "'q_proj'"),
    ("[loop]\ntau = -1.0\n", "loop.tau", "-1.0"),
    ("[loop]\nnovelty_threshold = 1.5\n", "loop.novelty_threshold", "1.5"),
    ("[referee]\nrpm = 0\n", "referee.rpm", "0"),
    ("[teacher]\nbase_url = 'ftp://example.com'\n", "teacher.base_url", "'ftp://example.com'"),
    ("loop = 5\n", "loop", "5"),
])
def test_bad_values_name_key_and_value(tmp_path: Path, toml: str, key: str, shown: str) -> None:
    path = _write(tmp_path, toml)
    msg = _error(path)
    assert f"key '{key}'" in msg
    assert f"(got {shown})" in msg
    assert msg.startswith(str(path))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "[loop]\ntau = 'x'\nhard_ratio = 2.0\n[budget]\nmax_dollars = 1\n"))
    assert "loop.tau" in msg and "loop.hard_ratio" in msg and "budget.max_dollars" in msg
    assert len(msg.splitlines()) == 3


def test_an_int_is_fine_where_a_float_is_expected(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, "[student]\nepochs = 2\n[loop]\ntau = 1\n"))
    assert s.student.epochs == 2.0 and isinstance(s.student.epochs, float)
    assert s.loop.tau == 1.0


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[loop]\niterations = 3\ntau = = 1.0\n")
    msg = _error(path)
    assert str(path) in msg and "invalid TOML" in msg and "line 3" in msg


def test_not_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "lion.toml"
    path.write_bytes(b"[project]\nname = 'caf\xe9'\n")
    assert "not UTF-8" in _error(path)
    missing = tmp_path / "nowhere" / "lion.toml"
    msg = _error(missing)
    assert str(missing) in msg and "lion init" in msg


def test_load_settings_accepts_the_project_folder(tmp_path: Path) -> None:
    _write(tmp_path, "[loop]\niterations = 5\n")
    assert load_settings(tmp_path).loop.iterations == 5


def test_parse_settings_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^my\.toml: unknown key 'x'"):
        parse_settings({"x": 1}, "my.toml")


def test_assignment_is_validated_too() -> None:
    s = Settings()
    with pytest.raises(ValueError):
        s.loop.tau = "high"  # type: ignore[assignment]


def test_open_project_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    """Any command that loads the config goes through open_project; a bad key is exit 2 and a
    message naming the file and the key, on stderr."""
    app = typer.Typer()

    @app.command()
    def show(directory: Path) -> None:
        project = open_project(directory, readonly=True)
        print(project.settings.loop.tau)

    @app.command()
    def other() -> None:  # a second command, so Typer keeps `show` as a subcommand
        pass

    cfg = _write(tmp_path, "[loop]\ntau = 'high'\n")
    result = CliRunner().invoke(app, ["show", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{cfg}: key 'loop.tau'" in result.stderr and result.stdout == ""

    cfg.write_text("[loop]\ntau = 1.25\n", encoding="utf-8")  # valid config, but no store yet
    result = CliRunner().invoke(app, ["show", str(tmp_path)])
    assert result.exit_code == 2 and "lion init" in result.stderr
