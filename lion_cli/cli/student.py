"""`lion student train|generate`: run the student's training or generation by hand.

`lion student train` has two ways:
- files: `--data train.jsonl --out DIR [--model PATH]` fine-tunes any model on any JSONL of
  {instruction, input?, output} rows. Settings not given on the command line come from the project's
  [student] section when run inside a project (and the job is then recorded in its store), else from
  the defaults (the paper's).
- project: `[--iteration N]` trains that iteration's student on the teacher's answers exactly as the
  imitation stage does (default: the iteration the loop is at), and records it as that iteration's student.
Both resume from the newest checkpoint in the output folder. `generate` lives in student_generate.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lion_cli.cli.common import Project, err, fail, find_project_dir
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project
from lion_cli.cli.student_common import (
    JSON_OPTION,
    LAUNCHER_OPTION,
    NPROC_OPTION,
    STRATEGY_OPTION,
    base_model,
    job_summary,
    launched_settings,
    print_summary,
    project_if_any,
    run_by_hand,
    with_overrides,
)

if TYPE_CHECKING:
    from lion_cli.config import Settings

student_app = typer.Typer(help="Train the student or make it answer, by hand.", no_args_is_help=True,
                          rich_markup_mode=None, epilog=examples(
                              "lion student train --iteration 0", "lion student generate --iteration 0"))


def _run_files(project: Project | None, data: Path, out: Path, model: str, settings: Settings,
               max_steps: int | None, as_json: bool) -> None:
    from lion_cli.pipeline.student_specs import specs_from_settings
    from lion_cli.student.jobs import train

    if not data.is_file():
        fail(f"--data {data}: no such file")
    spec, launch = specs_from_settings(settings, model_path=model, data_path=data.resolve(), output_dir=out.resolve(),
                                       project_dir=project.dir if project else None, max_steps=max_steps)
    err(f"training {model} on {data} → {out} ({launch.launcher}, {launch.world_size} process(es))")
    print_summary(run_by_hand(project, "train", spec, max_steps,
                              lambda on_metric: train(spec, launch, on_metric=on_metric)), as_json)


def _current_iteration(project: Project) -> int:
    from lion_cli.store.progress import next_position

    pos = next_position(project.store, project.settings.loop.iterations)
    # A finished run's last student is the final imitation's (iteration `iterations`).
    return pos[0] if pos is not None else project.settings.loop.iterations


def _run_project(project: Project, iteration: int | None, as_json: bool) -> None:
    import asyncio

    from lion_cli.cli.wiring import build_context
    from lion_cli.pipeline.imitation import train_student
    from lion_cli.student.launcher import JobFailed

    it = _current_iteration(project) if iteration is None else iteration
    if not project.settings.student.base_model:
        fail(f"{project.config_path}: key 'student.base_model' is empty; name the model to fine-tune")
    ctx = build_context(project.dir, project.settings, project.store)
    err(f"iteration {it}: training the student on the teacher's answers")
    t0 = time.perf_counter()
    try:
        final = asyncio.run(train_student(ctx, it))
    except JobFailed as exc:
        fail(f"training failed: {exc}", code=1)
    except (RuntimeError, ValueError) as exc:  # e.g. no teacher answers yet, a spec that cannot work
        fail(str(exc))
    print_summary(job_summary(final, {"iteration": it, "seconds": round(time.perf_counter() - t0, 2)}), as_json)


def add_train_command(app: typer.Typer) -> None:
    @app.command("train", epilog=examples(
        "lion student train --iteration 0",
        "lion student train --data rows.jsonl --out student-out --model HuggingFaceTB/SmolLM2-135M-Instruct "
        "--max-steps 10"))
    def train_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        iteration: int = typer.Option(None, "--iteration", min=0, help="Project mode: train this iteration's "
                                      "student (default: the iteration the loop is at).", metavar="N"),
        data: Path = typer.Option(None, "--data", help="Files mode: JSONL rows {instruction, input?, output}.",
                                  metavar="PATH"),
        out: Path = typer.Option(None, "--out", help="Files mode: output folder (checkpoints, metrics, final/).",
                                 metavar="DIR"),
        model: str = typer.Option(None, "--model", help="Files mode: model folder or hub id to start from "
                                  "(default: the project's student.base_model).", metavar="MODEL"),
        max_steps: int = typer.Option(None, "--max-steps", min=1, help="Files mode: stop after N optimizer steps.",
                                      metavar="N"),
        launcher: str = LAUNCHER_OPTION, nproc: int = NPROC_OPTION, strategy: str = STRATEGY_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Fine-tune the student: on a JSONL file, or on a project iteration's teacher answers."""
        directory = chosen_project(directory, project_option)
        project = project_if_any(directory)
        if data is not None or out is not None:
            if data is None or out is None:
                fail("files mode needs both --data and --out")
            if iteration is not None:
                fail("give either --iteration (project mode) or --data/--out (files mode)")
            if project is not None:
                settings = project.settings
            else:
                from lion_cli.config import Settings

                settings = Settings()
            base = base_model(project, settings, model)
            settings = launched_settings(settings, launcher, nproc, strategy)
            _run_files(project, data, out, base, settings, max_steps, as_json)
            return
        if project is None:
            fail(f"{find_project_dir(directory)}: no lion project here; use --data/--out to train on a file")
        if model is not None or max_steps is not None:
            fail("--model and --max-steps apply to files mode (--data/--out); a project trains from its settings")
        project.settings = with_overrides(project.settings, launcher, nproc, strategy)
        _run_project(project, iteration, as_json)


def register(app: typer.Typer) -> None:
    from lion_cli.cli.student_dpo import add_dpo_command
    from lion_cli.cli.student_generate import add_generate_command

    add_train_command(student_app)
    add_generate_command(student_app)
    add_dpo_command(student_app)
    app.add_typer(student_app, name="student")
