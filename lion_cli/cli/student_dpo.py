"""`lion student dpo`: preference-tune a model on a pairs file, by hand.

`--pairs pairs.jsonl --model PATH --out DIR` runs the DPO entry script on JSONL rows in TRL's layout
{prompt, chosen, rejected} (what `lion export data` writes beside the training set). Settings not
given on the command line come from the project's [student] and [preference] sections when run
inside a project (the job is then recorded in its store), else from the defaults. A killed run
resumes from its newest checkpoint in DIR without computing the reference log-probabilities again.

Added to the `student` sub-app by lion_cli/cli/student.py (`add_dpo_command(student_app)`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import err, fail


def _settings(project: Any, loss_type: str | None, beta: float | None) -> Any:
    from pydantic import ValidationError

    from lion_cli.config import Settings

    settings = project.settings if project is not None else Settings()
    update = {k: v for k, v in (("loss_type", loss_type), ("beta", beta)) if v is not None}
    try:
        preference = settings.preference.model_validate({**settings.preference.model_dump(), **update})
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']} (got {first['input']!r})")
    return settings.model_copy(update={"preference": preference})


def run_dpo_files(project: Any, pairs: Path, out: Path, model: str, settings: Any, ref_model: str | None,
                  max_steps: int | None) -> dict[str, Any]:
    from lion_cli.cli.student_common import job_summary, progress_printer
    from lion_cli.pipeline.preference import dpo_spec
    from lion_cli.store.jobs import add_metric, finish_job, start_job
    from lion_cli.student.jobs import dpo
    from lion_cli.student.launcher import JobFailed

    if not pairs.is_file():
        fail(f"--pairs {pairs}: no such file")
    spec, launch = dpo_spec(settings, model_path=model, pairs_path=pairs.resolve(), output_dir=out.resolve(),
                            project_dir=project.dir if project else None, max_steps=max_steps)
    spec.ref_model_path = ref_model or ""
    job = start_job(project.store, None, "dpo", spec.to_json(), spec.output_dir, max_steps) if project else None
    report = progress_printer()

    def on_metric(m: dict[str, Any]) -> None:
        report(m)
        if m.get("event") == "reference":
            err("reference log-probs " + ("computed" if m.get("computed") else "reused (same fingerprint)"))
        if project is not None and job is not None:
            add_metric(project.store, job, m)

    err(f"DPO on {model} with {pairs} → {out} ({launch.launcher}, {launch.world_size} process(es))")
    t0 = time.perf_counter()
    try:
        final = dpo(spec, launch, on_metric=on_metric)
    except (JobFailed, RuntimeError, ValueError) as exc:
        if project is not None and job is not None:
            finish_job(project.store, job, "failed", getattr(exc, "exit_code", None), str(exc)[-2000:])
        if isinstance(exc, ValueError):
            fail(str(exc))
        fail(f"DPO failed: {exc}", code=1)
    if project is not None and job is not None:
        finish_job(project.store, job, "done", 0, None)
    return job_summary(final, {"job_id": job, "seconds": round(time.perf_counter() - t0, 2)})


def add_dpo_command(app: typer.Typer) -> None:
    @app.command("dpo")
    def dpo_cmd(
        pairs: Path = typer.Option(..., "--pairs", help="JSONL rows {prompt, chosen, rejected} (TRL's layout)."),
        out: Path = typer.Option(..., "--out", help="Output folder (checkpoints, reference log-probs, final/)."),
        model: str = typer.Option(None, "--model", help="Model folder or hub id to tune (default: the project's "
                                  "student.base_model)."),
        ref_model: str = typer.Option(None, "--ref-model", help="The reference model (default: --model)."),
        directory: Path = typer.Option(None, "--project", "-C", help="Project folder (default: the nearest one)."),
        beta: float = typer.Option(None, "--beta", help="DPO's beta (default: [preference] beta)."),
        loss_type: str = typer.Option(None, "--loss-type", help="sigmoid | ipo | hinge."),
        max_steps: int = typer.Option(None, "--max-steps", min=1, help="Stop after N optimizer steps."),
        launcher: str = typer.Option(None, "--launcher", help="python | torchrun | deepspeed | accelerate."),
        nproc: int = typer.Option(None, "--nproc", min=1, help="Processes per node."),
        strategy: str = typer.Option(None, "--strategy", help="ddp | fsdp | zero2 | zero3 | zero3_offload | a "
                                     "DeepSpeed .json path."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Preference-tune a model (DPO) on chosen/rejected pairs."""
        from lion_cli.cli.student_common import print_summary, project_if_any, with_overrides

        project = project_if_any(directory)
        settings = _settings(project, loss_type, beta)
        base = model or settings.student.base_model
        if base and model is None and project is not None:  # lion.toml's paths are relative to it
            from lion_cli.config import model_location

            base = model_location(project.dir, base)
        if not base:
            fail("--model is needed outside a project (or set student.base_model in lion.toml)")
        if nproc is not None and nproc > 1 and launcher is None and settings.student.launcher == "python":
            launcher = "torchrun"
        settings = with_overrides(settings, launcher, nproc, strategy)
        print_summary(run_dpo_files(project, pairs, out, _located(base), settings, ref_model and _located(ref_model),
                             max_steps), as_json)


def _located(model: str) -> str:
    """A model folder given relative to here, made absolute (the job runs in its output folder); a hub
    id as it is."""
    return str(Path(model).resolve()) if Path(model).exists() else model
