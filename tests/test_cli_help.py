"""`lion --help` starts fast: no torch, transformers, textual or httpx at start-up (each costs
0.3–8 s per process), and well under half a second of CPU."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from typing import Any

HEAVY = ("torch", "transformers", "textual", "httpx", "peft", "trl", "deepspeed", "accelerate", "datasets")


def _run_help(*flags: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `python [flags] -m lion_cli --help`; return it and the CPU seconds it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, *flags, "-m", "lion_cli", "--help"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu


def test_help_imports_nothing_heavy() -> None:
    proc, _ = _run_help("-X", "importtime")
    assert proc.returncode == 0, proc.stderr
    # -X importtime writes one line per imported module to stderr: "import time: self | cumulative | name".
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("import time:")]
    modules = {ln.rsplit("|", 1)[-1].strip() for ln in lines}
    assert "lion_cli.cli.app" in modules  # the check really saw the app being imported
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == [], f"`lion --help` imported {loaded[:10]}"


def test_help_lists_commands_and_is_quick() -> None:
    # CPU time, not wall time: on a shared CI machine the wall clock measures the neighbours too.
    runs = [_run_help() for _ in range(3)]
    proc = runs[0][0]
    assert proc.returncode == 0 and proc.stderr == ""
    for command in ("init", "run", "serve", "db"):
        assert f"  {command} " in proc.stdout or f"  {command}\n" in proc.stdout, proc.stdout
    best = min(cpu for _, cpu in runs)
    assert best < 0.5, f"`lion --help` used {best:.2f} s of CPU (budget 0.5 s)"


def test_short_help_exit_codes_and_completion() -> None:
    """`-h` is help on every command; `lion --help` lists the exit codes and Typer's shell completion."""
    top = subprocess.run([sys.executable, "-m", "lion_cli", "-h"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0, top.stderr
    text = " ".join(top.stdout.split())
    for code in ("0 done", "2 bad input", "3 paused at the budget", "4 another run", "5 a training", "130 interrupted"):
        assert code in text, code
    assert "--install-completion" in text and "--show-completion" in text
    for command in (["status"], ["eval", "bbh"], ["export", "data"], ["student", "train"]):
        sub = subprocess.run([sys.executable, "-m", "lion_cli", *command, "-h"], capture_output=True, text=True,
                             timeout=60)
        assert sub.returncode == 0 and " ".join(command) + " [OPTIONS]" in sub.stdout, (command, sub.stderr)


def _commands() -> list[tuple[list[str], Any]]:
    """Every command and group under `lion`, with its path of names, walked in-process (no subprocess each)."""
    import typer

    from lion_cli.cli.app import app

    found: list[tuple[list[str], Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), ["lion"])
    return found


def _help(path: list[str], command: Any) -> str:
    from typer._click import Context

    return str(command.get_help(Context(command, info_name=" ".join(path))))


def _example_lines(text: str) -> list[str]:
    _, _, section = text.partition("Examples:")
    return [ln.strip() for ln in section.splitlines() if ln.strip().startswith("lion")]


def test_every_help_has_runnable_examples_and_readable_metavars() -> None:
    commands = _commands()
    by_path = {" ".join(path): command for path, command in commands}
    assert {"lion eval bbh", "lion student dpo", "lion db migrate", "lion export data"} <= set(by_path)
    for path, command in commands:
        name = " ".join(path)
        text = _help(path, command)
        lines = _example_lines(text)
        assert 1 <= len(lines) <= 3, (name, text)
        for line in lines:
            _check_example(line, by_path)
        for param in command.params:
            if param.param_type_name == "option":
                shown = param.get_help_record(_ctx(path, command))
                assert shown is None or "<" not in shown[0], (name, shown)
            else:
                # Typer prints an argument's type after its name; the name itself must read as a word.
                assert param.metavar and param.metavar.isupper(), (name, param.name)
        usage = text.splitlines()[0]
        assert "<" not in usage, usage


def _ctx(path: list[str], command: Any) -> Any:
    from typer._click import Context

    return Context(command, info_name=" ".join(path))


def _check_example(line: str, by_path: dict[str, Any]) -> None:
    """The example names a real command, and every option it passes is one of that command's."""
    words = line.split()
    depth = 1
    while depth < len(words) and " ".join(words[:depth + 1]) in by_path:
        depth += 1
    command = by_path[" ".join(words[:depth])]
    assert not getattr(command, "commands", None), f"{line}: names a group, not a command"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words[depth:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, (line, word)


def test_bbh_and_agieval_describe_their_own_tasks() -> None:
    by_path = {" ".join(path): (path, command) for path, command in _commands()}
    bbh = _help(*by_path["lion eval bbh"])
    agieval = _help(*by_path["lion eval agieval"])
    def options(text: str) -> str:
        return text.partition("Options:")[2].partition("Examples:")[0]

    assert options(bbh) != options(agieval)
    assert "boolean_expressions" in bbh and "boolean_expressions" not in agieval
    assert "lsat-ar" in agieval and "lsat-ar" not in options(bbh)
    assert "27" in options(bbh) and "27" not in options(agieval)
