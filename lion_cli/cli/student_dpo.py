"""`lion student dpo`: preference-tune a model on a pairs file, by hand.

`--pairs pairs.jsonl --model PATH --out DIR` runs the DPO entry script on JSONL rows in TRL's layout
{prompt, chosen, rejected} (what `lion export data` writes beside the training set). Settings not
given on the command line come from the project's [student] and [preference] sections when run
inside a project (the job is then recorded in its store), else from the defaults. A killed run
resumes from its newest checkpoint in DIR without computing the reference log-probabilities again.

Added to the `student` sub-app by lion_cli/cli/student.py (`add_dpo_command(student_app)`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import err, fail
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project
from lion_cli.cli.student_common import JSON_OPTION, LAUNCHER_OPTION, NPROC_OPTION, STRATEGY_OPTION


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
    from lion_cli.cli.student_common import run_by_hand
    from lion_cli.pipeline.dpo_run import dpo_spec
    from lion_cli.student.jobs import dpo

    if not pairs.is_file():
        fail(f"--pairs {pairs}: no such file")
    spec, launch = dpo_spec(settings, model_path=model, pairs_path=pairs.resolve(), output_dir=out.resolve(),
                            project_dir=project.dir if project else None, max_steps=max_steps)
    spec.ref_model_path = ref_model or ""

    def on_event(m: dict[str, Any]) -> None:
        if m.get("event") == "reference":
            err("reference log-probs " + ("computed" if m.get("computed") else "reused (same fingerprint)"))

    err(f"DPO on {model} with {pairs} → {out} ({launch.launcher}, {launch.world_size} process(es))")
    return run_by_hand(project, "dpo", spec, max_steps, lambda on_metric: dpo(spec, launch, on_metric=on_metric),
                       on_event)


def add_dpo_command(app: typer.Typer) -> None:
    @app.command("dpo", epilog=examples(
        "lion student dpo --pairs pairs.jsonl --out dpo-out --model student-out",
        "lion student dpo --pairs pairs.jsonl --out dpo-out --beta 0.1 --max-steps 50"))
    def dpo_cmd(
        pairs: Path = typer.Option(..., "--pairs", help="JSONL rows {prompt, chosen, rejected} (TRL's layout).",
                                   metavar="PATH"),
        out: Path = typer.Option(..., "--out", help="Output folder (checkpoints, reference log-probs, final/).",
                                 metavar="DIR"),
        model: str = typer.Option(None, "--model", help="Model folder or hub id to tune (default: the project's "
                                  "student.base_model).", metavar="MODEL"),
        ref_model: str = typer.Option(None, "--ref-model", help="The reference model (default: --model).",
                                      metavar="MODEL"),
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        beta: float = typer.Option(None, "--beta", help="DPO's beta (default: [preference] beta).", metavar="X"),
        loss_type: str = typer.Option(None, "--loss-type", help="sigmoid | ipo | hinge.", metavar="LOSS"),
        max_steps: int = typer.Option(None, "--max-steps", min=1, help="Stop after N optimizer steps.", metavar="N"),
        launcher: str = LAUNCHER_OPTION, nproc: int = NPROC_OPTION, strategy: str = STRATEGY_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Preference-tune a model (DPO) on chosen/rejected pairs."""
        from lion_cli.cli.student_common import base_model, launched_settings, print_summary, project_if_any

        project = project_if_any(chosen_project(directory, project_option))
        settings = _settings(project, loss_type, beta)
        base = base_model(project, settings, model)
        settings = launched_settings(settings, launcher, nproc, strategy)
        print_summary(run_dpo_files(project, pairs, out, _located(base), settings, ref_model and _located(ref_model),
                             max_steps), as_json)


def _located(model: str) -> str:
    """A model folder given relative to here, made absolute (the job runs in its output folder); a hub
    id as it is."""
    return str(Path(model).resolve()) if Path(model).exists() else model
