"""`lion --help` starts fast: no torch, transformers, textual or httpx at start-up (each costs
0.3–8 s per process), and well under half a second of CPU."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

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
