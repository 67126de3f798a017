"""A corpus of malformed projects, each one mistake away from a project that passes: `lion check`
and `lion run` must both refuse it with exit 2 and a line naming the file and the key, print no
traceback, send nothing to the server and leave every file of the project as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.check_support import copy_project, fingerprint, make_ready_project, set_toml, write_model_folder
from tests.llm_support import loopback, stats

Mutation = Callable[[Path], None]
LITERAL_KEY = "sk-proj-4fJq9ZxLmN2pQrStUvWxYz0123456789abcd"


def _toml(key: str, value: object) -> Mutation:
    return lambda project: set_toml(project, key, value)


def _text(transform: Callable[[str], str]) -> Mutation:
    def mutate(project: Path) -> None:
        path = project / "lion.toml"
        path.write_text(transform(path.read_text(encoding="utf-8")), encoding="utf-8")
    return mutate


def _file(name: str, content: bytes | None, then: Mutation | None = None) -> Mutation:
    """Write (or, with None, delete) a file of the project, then apply `then`."""
    def mutate(project: Path) -> None:
        if content is None:
            (project / name).unlink()
        else:
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            (project / name).write_bytes(content)
        if then is not None:
            then(project)
    return mutate


def _model_without(name: str) -> Mutation:
    def mutate(project: Path) -> None:
        folder = write_model_folder(project / "broken-model")
        (folder / name).unlink()
        set_toml(project, "student.base_model", "broken-model")
    return mutate


def _broken_model_config(project: Path) -> None:
    folder = write_model_folder(project / "broken-model")
    (folder / "config.json").write_text('{"model_type": "no-such-architecture"}', encoding="utf-8")
    set_toml(project, "student.base_model", str(folder))


CORPUS: dict[str, tuple[Mutation, str]] = {
    # (what to break, what the message must name)
    "iterations zero": (_toml("loop.iterations", 0), "loop.iterations"),
    "iterations quoted": (_toml("loop.iterations", "3"), "loop.iterations"),
    "iterations float": (_toml("loop.iterations", 2.5), "loop.iterations"),
    "tau negative": (_toml("loop.tau", -0.5), "loop.tau"),
    "tau above nine": (_toml("loop.tau", 10.0), "loop.tau"),
    "tau nan": (_toml("loop.tau", float("nan")), "loop.tau"),
    "hard ratio above one": (_toml("loop.hard_ratio", 1.5), "loop.hard_ratio"),
    "novelty zero": (_toml("loop.novelty_threshold", 0.0), "loop.novelty_threshold"),
    "attempts inf": (_toml("loop.max_attempts_factor", float("inf")), "loop.max_attempts_factor"),
    "train_from unknown": (_toml("loop.train_from", "scratch"), "loop.train_from"),
    "new per iteration negative": (_toml("loop.new_per_iteration", -5), "loop.new_per_iteration"),
    "unknown loop key": (_text(lambda t: t.replace("[loop]\n", "[loop]\ntua = 1.0\n")), "loop.tua"),
    "unknown section": (_text(lambda t: t + "\n[wandb]\nproject = 'x'\n"), "wandb"),
    "section not a table": (_text(lambda t: "budget = 5\n" + t.replace("[budget]", "[budget_old]")
                                  .replace("max_usd", "old_max_usd")), "budget"),
    "project name empty": (_toml("project.name", ""), "project.name"),
    "data dir missing": (_toml("project.data_dir", "no-such-benchmarks"), "project.data_dir"),
    "teacher model empty": (_toml("teacher.model", ""), "teacher.model"),
    "referee model blank": (_toml("referee.model", "   "), "referee.model"),
    "base url no host": (_toml("teacher.base_url", "http://"), "teacher.base_url"),
    "base url no scheme": (_toml("generator.base_url", "localhost:8000/v1"), "generator.base_url"),
    "base url empty": (_toml("referee.base_url", ""), "referee.base_url"),
    "base url bad port": (_toml("teacher.base_url", "http://127.0.0.1:99999/v1"), "teacher.base_url"),
    "temperature inf": (_toml("teacher.temperature", float("inf")), "teacher.temperature"),
    "temperature too high": (_toml("generator.temperature", 2.5), "generator.temperature"),
    "top_p zero": (_toml("referee.top_p", 0.0), "referee.top_p"),
    "rpm zero": (_toml("referee.rpm", 0), "referee.rpm"),
    "max tokens zero": (_toml("teacher.max_tokens", 0), "teacher.max_tokens"),
    "max tokens over tpm": (_toml("teacher.max_tokens", 5_000_000), "teacher.max_tokens"),
    "price negative": (_toml("generator.price_output_per_1k", -0.01), "generator.price_output_per_1k"),
    "timeout zero": (_toml("teacher.timeout_s", 0.0), "teacher.timeout_s"),
    "retries bool": (_toml("teacher.max_retries", True), "teacher.max_retries"),
    "endpoint unknown key": (_text(lambda t: t.replace("[teacher]\n", "[teacher]\napi_key = 'x'\n")),
                             "teacher.api_key"),
    "endpoint not a table": (_text(lambda t: "referee = 3\n" + t.replace("[referee]\n", "[referee_old]\n")),
                             "referee"),
    "key variable unset": (_toml("teacher.api_key_env", "LION_CHECK_SURELY_UNSET"), "teacher.api_key_env"),
    "key variable bad name": (_toml("referee.api_key_env", "MY-KEY"), "referee.api_key_env"),
    "key variable digit first": (_toml("referee.api_key_env", "1KEY"), "referee.api_key_env"),
    "literal key": (_toml("generator.api_key_env", LITERAL_KEY), "generator.api_key_env"),
    "base model empty": (_toml("student.base_model", ""), "student.base_model"),
    "base model missing": (_toml("student.base_model", "models/nowhere"), "student.base_model"),
    "base model is a file": (_file("model.bin", b"x", _toml("student.base_model", "model.bin")),
                             "student.base_model"),
    "base model no tokenizer": (_model_without("tokenizer.json"), "student.base_model"),
    "base model no config": (_model_without("config.json"), "student.base_model"),
    "base model bad config": (_broken_model_config, "student.base_model"),
    "max length beyond model": (_toml("student.max_length", 4096), "student.max_length"),
    "chat format without template": (_toml("student.prompt_format", "chat"), "student.prompt_format"),
    "strategy unknown": (_toml("student.strategy", "zero4"), "student.strategy"),
    "strategy json missing": (_toml("student.strategy", "ds/none.json"), "student.strategy"),
    "strategy json invalid": (_file("ds.json", b"{\"zero_optimization\": ", _toml("student.strategy", "ds.json")),
                              "student.strategy"),
    "strategy json not object": (_file("ds.json", b"[1, 2]", _toml("student.strategy", "ds.json")),
                                 "student.strategy"),
    "launcher unknown": (_toml("student.launcher", "slurm"), "student.launcher"),
    "precision unknown": (_toml("student.precision", "fp8"), "student.precision"),
    "scheduler unknown": (_toml("student.lr_scheduler", "cosine_wild"), "student.lr_scheduler"),
    "nproc zero": (_toml("student.nproc_per_node", 0), "student.nproc_per_node"),
    "epochs zero": (_toml("student.epochs", 0.0), "student.epochs"),
    "lr negative": (_toml("student.lr", -1e-5), "student.lr"),
    "warmup one": (_toml("student.warmup_ratio", 1.0), "student.warmup_ratio"),
    "batch does not divide": (_toml("student.global_batch_size", 10), "student.global_batch_size"),
    "batch not divisible by processes": (
        lambda p: (set_toml(p, "student.launcher", "torchrun"), set_toml(p, "student.nproc_per_node", 3)),
        "student.global_batch_size"),
    "two nodes without rendezvous": (
        lambda p: (set_toml(p, "student.launcher", "torchrun"), set_toml(p, "student.nnodes", 2)),
        "student.rdzv_endpoint"),
    "node rank out of range": (lambda p: (set_toml(p, "student.launcher", "torchrun"),
                                          set_toml(p, "student.nnodes", 2), set_toml(p, "student.node_rank", 2),
                                          set_toml(p, "student.rdzv_endpoint", "10.0.0.1:29500")),
                               "student.node_rank"),
    "rendezvous not host port": (_toml("student.rdzv_endpoint", "node0"), "student.rdzv_endpoint"),
    "hostfile missing": (_toml("student.hostfile", "hosts.txt"), "student.hostfile"),
    "lora no modules": (_toml("student.lora.target_modules", []), "student.lora.target_modules"),
    "lora dropout one": (_toml("student.lora.dropout", 1.0), "student.lora.dropout"),
    "generation backend unknown": (_toml("student.generation.backend", "tgi"), "student.generation.backend"),
    "generation batch zero": (_toml("student.generation.batch_size", 0), "student.generation.batch_size"),
    "budget negative": (_toml("budget.max_usd", -1.0), "budget.max_usd"),
    "duplicate key": (_text(lambda t: t.replace("[loop]\n", "[loop]\ntau = 1.5\n")), "line"),
    "unparseable toml": (_text(lambda t: t.replace("[loop]\n", "[loop\n")), "line"),
    "not utf8": (_file("lion.toml", b"[project]\nname = 'caf\xe9'\n"), "UTF-8"),
    "lion.toml missing": (_file("lion.toml", None), "lion.toml: not found"),
    "lion.db missing": (_file("lion.db", None), "lion.db: not found"),
    "lion.db corrupt": (_file("lion.db", b"this is not sqlite " * 300), "lion.db: not a readable"),
    "lion.db empty": (_file("lion.db", b""), "lion.db: not a lion store"),
}


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


def test_the_unbroken_project_passes(ready_project: Path, lion_cli) -> None:  # type: ignore[no-untyped-def]
    """Without this, every case below could pass by refusing everything."""
    result = lion_cli("check", str(ready_project))
    assert result.exit_code == 0, result.stderr
    assert "ready to run" in result.stdout


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_project_is_refused_before_any_request(  # type: ignore[no-untyped-def]
        case: str, server: str, ready_project: Path, tmp_path: Path, lion_cli) -> None:
    mutate, named = CORPUS[case]
    project = copy_project(ready_project, tmp_path / "p")
    mutate(project)
    before, sent = fingerprint(project), stats(server)["requests"]
    for command in ("check", "run", "resume"):
        result = lion_cli(command, str(project))
        assert result.exit_code == 2, f"{command}: {result.stdout}{result.stderr}"
        lines = [ln for ln in result.stderr.splitlines() if named in ln]
        assert lines, f"{command} did not name {named!r}:\n{result.stderr}"
        assert str(project) in lines[0]  # the line names the file
        assert "Traceback" not in result.stderr + result.stdout
        assert LITERAL_KEY not in result.stderr + result.stdout
    assert stats(server)["requests"] == sent
    assert fingerprint(project) == before
