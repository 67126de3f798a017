"""What `lion student train` and `lion student dpo` share: the project a command runs in, the command
line's launcher overrides, the progress lines and the summary of a finished job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lion_cli.cli.common import CONFIG_NAME, DB_NAME, Project, err, fail, find_project_dir, open_project

if TYPE_CHECKING:
    from lion_cli.config import Settings


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
            err(f"step {m['step']}/{m.get('total_steps', '?')} · loss {m['loss']:.4f} · lr {m.get('lr', 0):.2e}"
                f" · {m.get('tokens_per_s', 0):.0f} tok/s")
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
