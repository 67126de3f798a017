"""What `lion student train` and `lion student dpo` share: the project a command runs in, the command
line's launcher overrides, the progress lines and the summary of a finished job."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lion_cli.cli.common import CONFIG_NAME, DB_NAME, Project, err, fail, find_project_dir, open_project

if TYPE_CHECKING:
    from lion_cli.config import Settings

# The launch options `lion student train` and `lion student dpo` both take.
LAUNCHER_OPTION = typer.Option(None, "--launcher", help="python | torchrun | deepspeed | accelerate.",
                               metavar="LAUNCHER")
NPROC_OPTION = typer.Option(None, "--nproc", min=1, help="Processes per node.", metavar="N")
STRATEGY_OPTION = typer.Option(None, "--strategy", help="ddp | fsdp | zero2 | zero3 | zero3_offload | a DeepSpeed "
                               ".json path.", metavar="STRATEGY")
JSON_OPTION = typer.Option(False, "--json", help="Print the summary as JSON.")


def project_if_any(directory: Path | None) -> Project | None:
    d = find_project_dir(directory)
    return open_project(d) if (d / CONFIG_NAME).exists() and (d / DB_NAME).exists() else None


def with_overrides(settings: Settings, launcher: str | None, nproc: int | None, strategy: str | None) -> Settings:
    """The settings with the command line's launcher choices applied (the project file is not changed)."""
    update: dict[str, Any] = {}
    if launcher is not None:
        from lion_cli.student.specs import LAUNCHERS

        if launcher not in LAUNCHERS:
            fail(f"--launcher {launcher}: expected one of {', '.join(LAUNCHERS)}")
        update["launcher"] = launcher
    if nproc is not None:
        update["nproc_per_node"] = nproc
    if strategy is not None:
        update["strategy"] = strategy
    return settings.model_copy(update={"student": settings.student.model_copy(update=update)})


def progress_printer() -> Any:
    def report(m: dict[str, Any]) -> None:
        if isinstance(m.get("step"), int) and "loss" in m:
            # A distillation job's checkpoint steps also score the held-out rows (and steer sgo by them).
            kl = f" · held-out KL {m['heldout_kl']:.4f}" if isinstance(m.get("heldout_kl"), float) else ""
            sgo = f" · sgo p {m['sgo_probability']:.2f}" if isinstance(m.get("sgo_probability"), float) else ""
            err(f"step {m['step']}/{m.get('total_steps', '?')} · loss {m['loss']:.4f}{kl}{sgo}"
                f" · lr {m.get('lr', 0):.2e} · {m.get('tokens_per_s', 0):.0f} tok/s")
        elif m.get("event") == "resume":
            err(f"resumed from checkpoint step {m.get('from_step')}")

    return report


def job_summary(final: Path, extra: dict[str, Any]) -> dict[str, Any]:
    out = final.parent
    done: dict[str, Any] = {}
    metrics = out / "metrics.jsonl"
    if metrics.exists():
        for line in metrics.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("event") == "done":
                done = row
    return {"final": str(final), "steps": done.get("step"), "train_loss": done.get("train_loss"), **extra}


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
    else:
        loss = summary.get("train_loss")
        print(f"student written to {summary['final']} ({summary.get('steps')} steps"
              + (f", mean loss {loss:.4f})" if isinstance(loss, float) else ")"))


def base_model(project: Project | None, settings: Settings, model: str | None) -> str:
    """--model, else the project's student.base_model (relative to its lion.toml); exit 2 when neither."""
    base = model or settings.student.base_model
    if base and model is None and project is not None:  # lion.toml's paths are relative to it
        from lion_cli.config import model_location

        base = model_location(project.dir, base)
    if not base:
        fail("--model is needed outside a project (or set student.base_model in lion.toml)")
    return base


def launched_settings(settings: Settings, launcher: str | None, nproc: int | None, strategy: str | None) -> Settings:
    """with_overrides, and torchrun for --nproc > 1 where the settings would run plain python."""
    if nproc is not None and nproc > 1 and launcher is None and settings.student.launcher == "python":
        launcher = "torchrun"
    return with_overrides(settings, launcher, nproc, strategy)


def run_by_hand(project: Project | None, kind: str, spec: Any, max_steps: int | None,
                job: Callable[[Callable[[dict[str, Any]], None]], Path],
                on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run a training-like job with progress lines (and `on_event` for its other lines), recorded in the
    project's store as `kind` when there is a project; its summary. A spec that cannot work exits 2, a
    job that fails exits 1."""
    from lion_cli.store.jobs import add_metric, finish_job, start_job
    from lion_cli.student.launcher import JobFailed

    row = start_job(project.store, None, kind, spec.to_json(), spec.output_dir, max_steps) if project else None
    report = progress_printer()

    def on_metric(m: dict[str, Any]) -> None:
        report(m)
        if on_event is not None:
            on_event(m)
        if project is not None and row is not None:
            add_metric(project.store, row, m)

    t0 = time.perf_counter()
    try:
        final = job(on_metric)
    except (JobFailed, RuntimeError, ValueError) as exc:
        if project is not None and row is not None:
            finish_job(project.store, row, "failed", getattr(exc, "exit_code", None), str(exc)[-2000:])
        if isinstance(exc, ValueError):
            fail(str(exc))
        fail(f"{'training' if kind == 'train' else kind.upper()} failed: {exc}", code=1)
    if project is not None and row is not None:
        finish_job(project.store, row, "done", 0, None)
    return job_summary(final, {"job_id": row, "seconds": round(time.perf_counter() - t0, 2)})
