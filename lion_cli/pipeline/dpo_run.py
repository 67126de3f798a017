"""One DPO job of the preference stage on a set of pairs: the [student] and [preference] settings as the
student layer's DPOSpec (for the stage and for `lion student dpo`), the job run and recorded, its model
made the iteration's student, and a finished run's detail read back on resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from lion_cli.config import Settings
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.job_thread import relay, run_recorded
from lion_cli.pipeline.progress import log
from lion_cli.pipeline.student_specs import specs_from_settings
from lion_cli.store.jobs import add_metric, job_metrics, project_job_id, start_job
from lion_cli.store.progress import set_student_path, student_path
from lion_cli.student.specs import DPOSpec, LaunchConfig, TrainSpec

DETAIL_NAME = "preference.json"  # a finished DPO run's detail, beside its final/
DISTILLATION_KEYS = ("objective", "skew_alpha", "teacher_model", "heldout_rows", "sgo")


def dpo_spec(settings: Settings, *, model_path: str | Path, pairs_path: Path, output_dir: Path,
             project_dir: Path | None = None, max_steps: int | None = None) -> tuple[DPOSpec, LaunchConfig]:
    """The [student] training settings (launcher, strategy, precision, LoRA, checkpoints) with the
    [preference] ones (beta, loss, learning rate, epochs, batch, length) over them."""
    train, launch = specs_from_settings(settings, model_path=model_path, data_path=pairs_path,
                                        output_dir=output_dir, project_dir=project_dir, max_steps=max_steps)
    p = settings.preference
    shared = {f.name: getattr(train, f.name) for f in dataclasses.fields(train)}
    # White-box distillation is the imitation stage's: a DPO job has no teacher to check, hash or load.
    shared.update({name: getattr(TrainSpec, name) for name in DISTILLATION_KEYS})
    spec = DPOSpec(**{**shared, "beta": p.beta, "loss_type": p.loss_type, "lr": p.lr, "epochs": p.epochs,
                      "global_batch_size": p.global_batch_size, "per_device_batch_size": p.per_device_batch_size,
                      "max_length": p.max_length, "precompute_ref": p.precompute_ref, "packing": False})
    return spec, launch


def finished_detail(ctx: LoopContext, iteration: int, out_dir: Path) -> dict[str, Any] | None:
    """The detail of a DPO run in `out_dir` that finished before, or None. A run killed after its
    detail was written but before its model became the iteration's student is made so now."""
    path = out_dir / DETAIL_NAME
    if not path.exists():
        return None
    detail: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    tuned, started_from = detail.get("student_path"), detail.get("sft_student")
    if tuned and started_from and student_path(ctx.store, iteration) == started_from:
        with ctx.store.tx():
            set_student_path(ctx.store, iteration, tuned)
    return detail


async def tune_on_pairs(ctx: LoopContext, iteration: int, pairs: list[dict[str, Any]], out_dir: Path,
                        job_kind: str, why: str) -> dict[str, Any]:
    """The DPO job of the iteration's current student on `pairs` (TRL's layout) in `out_dir`; its model
    becomes the iteration's student. `job_kind` names the job, so each run has its own checkpoints;
    `why` says in the log which pairs these are."""
    from lion_cli.student.jobs import dpo

    current = student_path(ctx.store, iteration)
    assert current is not None  # callers checked: there is a student to tune
    data = out_dir / "pairs.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in pairs), encoding="utf-8")
    spec, launch = dpo_spec(ctx.settings, model_path=current, pairs_path=data, output_dir=out_dir,
                            project_dir=ctx.project_dir)
    spec.job_id = project_job_id(ctx.store, iteration, job_kind)  # no other project's checkpoint is resumed
    log(f"it{iteration} preference · DPO on {len(pairs)} pairs ({why}) from {current} ({launch.launcher})")
    job = start_job(ctx.store, iteration, "dpo", spec.to_json(), str(out_dir), None)
    on_metric = relay(lambda m: add_metric(ctx.store, job, m))  # made here: it posts to this event loop
    final = await run_recorded(ctx.store, job, lambda cancel: dpo(spec, launch, on_metric=on_metric, cancel=cancel),
                               lambda: None)
    detail = {"pairs": len(pairs), "sft_student": current, "student_path": str(final), **last_step(ctx, job)}
    (out_dir / DETAIL_NAME).write_text(json.dumps(detail) + "\n", encoding="utf-8")
    with ctx.store.tx():
        set_student_path(ctx.store, iteration, str(final))
    return detail


def last_step(ctx: LoopContext, job: int) -> dict[str, Any]:
    rows = job_metrics(ctx.store, job)
    return {k: rows[-1][k] for k in ("loss", "margin", "accuracy")} if rows else {}
