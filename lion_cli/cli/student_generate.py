"""`lion student generate`: make the student answer, by hand.

Two ways to call it:
- files: `--model PATH --input in.jsonl --output out.jsonl` runs the generation entry script on any
  JSONL of {id, instruction, input?, seed?} rows (or {id, prompt} with --prompt-format raw/chat_raw)
  and writes {id, text, finish_reason, prompt_tokens, completion_tokens, seed} rows. Settings not
  given on the command line come from the project's [student] section when run inside a project.
- project: `--iteration N` answers the iteration's Cache Pool with that iteration's student and stores
  the answers, exactly as the discrimination stage does (what is already answered is skipped).
Both resume: rows a killed run finished are not generated again.

Added to the `student` sub-app by lion_cli/cli/student.py (`add_generate_command(student_app)`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lion_cli.cli.common import CONFIG_NAME, DB_NAME, Project, err, fail, find_project_dir, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

if TYPE_CHECKING:
    from lion_cli.student.specs import GenSpec, LaunchConfig


def _project_if_any(directory: Path | None) -> Project | None:
    d = find_project_dir(directory)
    return open_project(d) if (d / CONFIG_NAME).exists() and (d / DB_NAME).exists() else None


def _latest_student(project: Project) -> int:
    from lion_cli.store.progress import latest_student_iteration

    found = latest_student_iteration(project.store)
    if found is None:
        fail(f"{project.dir}: no trained student yet (run `lion student train` or `lion run` first)")
    return int(found)


def _files_spec(project: Project | None, model: Path, inp: Path, out: Path, overrides: dict[str, Any]) -> GenSpec:
    from lion_cli.student.scripts.generate import read_rows
    from lion_cli.student.specs import GenSpec, SpecError

    if not (model / "config.json").is_file():
        fail(f"--model {model}: not a model folder (no config.json)")
    if not inp.is_file():
        fail(f"--input {inp}: no such file")
    if project is not None:
        from lion_cli.pipeline.student_specs import gen_spec

        spec = gen_spec(project.settings, model_path=model, input_path=inp, output_path=out)
    else:
        spec = GenSpec(model_path=str(model), input_path=str(inp), output_path=str(out))
    for key, value in overrides.items():
        if value is not None:
            setattr(spec, key, value)
    try:
        spec.validate()
        read_rows(inp, spec.prompt_format)  # bad rows are named here, not as a subprocess's stderr tail
    except SpecError as exc:
        fail(str(exc))
    return spec


def _launch(project: Project | None, nproc: int | None) -> LaunchConfig:
    from lion_cli.student.specs import LaunchConfig

    if nproc is not None:
        if nproc < 1:
            fail("--nproc must be at least 1")
        return LaunchConfig("torchrun" if nproc > 1 else "python", nproc_per_node=nproc)
    if project is not None:
        from lion_cli.pipeline.student_specs import launch_config

        return launch_config(project.settings, for_generation=True, project_dir=project.dir)
    return LaunchConfig("python")


def _progress() -> Any:
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 2.0:
            last[0] = now
            err(f"generate: {done}/{total} rows")

    return report


def _run_files(project: Project | None, spec: GenSpec, nproc: int | None, as_json: bool) -> None:
    from lion_cli.student.jobs import generate
    from lion_cli.student.launcher import JobFailed

    t0 = time.perf_counter()
    try:
        rows = generate(spec, _launch(project, nproc), on_progress=_progress())
    except JobFailed as exc:
        fail(f"generation failed: {exc}", code=1)
    summary = {"rows": len(rows), "output": spec.output_path,
               "completion_tokens": sum(int(r.get("completion_tokens", 0)) for r in rows.values()),
               "stopped_by_length": sum(r.get("finish_reason") == "length" for r in rows.values()),
               "seconds": round(time.perf_counter() - t0, 2)}
    if as_json:
        print(json.dumps(summary))
    else:
        print(f"wrote {summary['rows']} answers to {spec.output_path} ({summary['completion_tokens']} new tokens, "
              f"{summary['stopped_by_length']} cut by max_new_tokens, {summary['seconds']} s)")


def _run_project(project: Project, iteration: int | None, as_json: bool) -> None:
    import asyncio

    from lion_cli.cli.wiring import build_context
    from lion_cli.pipeline.discrimination import student_answers
    from lion_cli.student.launcher import JobFailed

    it = _latest_student(project) if iteration is None else iteration
    ctx = build_context(project.dir, project.settings, project.store)
    t0 = time.perf_counter()
    try:
        made = asyncio.run(student_answers(ctx, it))
    except JobFailed as exc:
        fail(f"generation failed: {exc}", code=1)
    except RuntimeError as exc:  # no trained student for that iteration
        fail(str(exc))
    summary = {"iteration": it, "new_answers": made, "seconds": round(time.perf_counter() - t0, 2)}
    if as_json:
        print(json.dumps(summary))
    else:
        print(f"iteration {it}: {made} new student answers stored ({summary['seconds']} s)")


def add_generate_command(student_app: typer.Typer) -> None:
    @student_app.command("generate", epilog=examples(
        "lion student generate --iteration 0",
        "lion student generate --model student-out --input prompts.jsonl --output answers.jsonl --temperature 0"))
    def generate_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        iteration: int = typer.Option(None, "--iteration", help="Answer this iteration's Cache Pool with its "
                                      "student and store the answers (default: the latest trained student).",
                                      metavar="N"),
        model: Path = typer.Option(None, "--model", help="Files mode: the model folder (HF format).", metavar="DIR"),
        input_path: Path = typer.Option(None, "--input", help="Files mode: JSONL rows {id, instruction, input?, "
                                        "seed?} (or {id, prompt} with --prompt-format raw/chat_raw).", metavar="PATH"),
        output_path: Path = typer.Option(None, "--output", help="Files mode: the JSONL answers to write.",
                                         metavar="PATH"),
        prompt_format: str = typer.Option(None, "--prompt-format", help="alpaca | chat | raw | chat_raw.",
                                          metavar="FORMAT"),
        max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, metavar="N"),
        temperature: float = typer.Option(None, "--temperature", min=0.0, help="0 = greedy.", metavar="X"),
        top_p: float = typer.Option(None, "--top-p", min=0.0, max=1.0, metavar="X"),
        top_k: int = typer.Option(None, "--top-k", min=0, help="0 = off.", metavar="N"),
        batch_size: int = typer.Option(None, "--batch-size", min=1, help="Rows decoded together.", metavar="N"),
        seed: int = typer.Option(None, "--seed", help="Base seed of rows without their own.", metavar="N"),
        backend: str = typer.Option(None, "--backend", help="hf | vllm (vLLM only when installed).", metavar="BACKEND"),
        dtype: str = typer.Option(None, "--dtype", help="auto | fp32 | bf16 | fp16.", metavar="DTYPE"),
        nproc: int = typer.Option(None, "--nproc", help="Processes (data parallel under torchrun).", metavar="N"),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Make the student answer: a JSONL file of instructions, or a project iteration's Cache Pool."""
        directory = chosen_project(directory, project_option)
        files = (model, input_path, output_path)
        if any(v is not None for v in files):
            if not all(v is not None for v in files):
                fail("files mode needs all of --model, --input and --output")
            if iteration is not None:
                fail("give either --iteration (project mode) or --model/--input/--output (files mode)")
            from lion_cli.student.specs import DTYPES, GEN_BACKENDS, GEN_PROMPT_FORMATS

            choices = {"prompt_format": GEN_PROMPT_FORMATS, "backend": GEN_BACKENDS, "dtype": DTYPES}
            for key, value in (("prompt_format", prompt_format), ("backend", backend), ("dtype", dtype)):
                if value is not None and value not in choices[key]:
                    fail(f"--{key.replace('_', '-')} {value}: expected one of {', '.join(choices[key])}")
            overrides = {"prompt_format": prompt_format, "max_new_tokens": max_new_tokens,
                         "temperature": temperature, "top_p": top_p, "top_k": top_k, "batch_size": batch_size,
                         "base_seed": seed, "backend": backend, "dtype": dtype}
            if overrides["top_p"] == 0:
                fail("--top-p must be greater than 0")
            project = _project_if_any(directory)
            spec = _files_spec(project, model, input_path, output_path, overrides)
            _run_files(project, spec, nproc, as_json)
            return
        given = [flag for flag, v in (("--prompt-format", prompt_format), ("--max-new-tokens", max_new_tokens),
                                      ("--temperature", temperature), ("--top-p", top_p), ("--top-k", top_k),
                                      ("--batch-size", batch_size), ("--seed", seed), ("--backend", backend),
                                      ("--dtype", dtype), ("--nproc", nproc)) if v is not None]
        if given:
            fail(f"{', '.join(given)}: project mode uses the project's [student] settings (edit lion.toml); "
                 "these options are for files mode")
        _run_project(open_project(directory), iteration, as_json)
