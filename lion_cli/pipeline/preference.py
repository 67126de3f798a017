"""The preference stage: DPO on the referee's judgements (the LIONs pipeline's step after SFT).

Pairs come from the store: for an iteration's labelled Cache Pool items, chosen = the teacher's
answer, rejected = that iteration's student's answer, kept where the referee's averaged gap
(teacher − student over both orders) is at least [preference] margin (default [loop] tau). Unscored
items never pair; a cap keeps the widest gaps. It runs inside the imitation stage, after the SFT
student is trained (after every iteration's, or only the final one's: [preference] when), on the
pairs judged in the iterations before, and the tuned model becomes that iteration's student; its
detail is the imitation stage's "preference" entry. dpo_spec maps [student] and [preference] onto the
student layer's DPOSpec, for the stage and for `lion student dpo`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from lion_cli.config import Settings
from lion_cli.core.seed_records import user_text
from lion_cli.core.types import Role
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.job_thread import relay, run_recorded
from lion_cli.pipeline.progress import log
from lion_cli.pipeline.student_specs import specs_from_settings
from lion_cli.store.exports import judged_labels
from lion_cli.store.jobs import add_metric, job_metrics, project_job_id, start_job
from lion_cli.store.loop_rows import answers
from lion_cli.store.pools import get_instructions
from lion_cli.store.progress import set_student_path, student_path
from lion_cli.student.specs import DPOSpec, LaunchConfig

DETAIL_NAME = "preference.json"  # the finished stage's detail, beside its final/


def dpo_spec(settings: Settings, *, model_path: str | Path, pairs_path: Path, output_dir: Path,
             project_dir: Path | None = None, max_steps: int | None = None) -> tuple[DPOSpec, LaunchConfig]:
    """The [student] training settings (launcher, strategy, precision, LoRA, checkpoints) with the
    [preference] ones (beta, loss, learning rate, epochs, batch, length) over them."""
    train, launch = specs_from_settings(settings, model_path=model_path, data_path=pairs_path,
                                        output_dir=output_dir, project_dir=project_dir, max_steps=max_steps)
    p = settings.preference
    shared = {f.name: getattr(train, f.name) for f in dataclasses.fields(train)}
    spec = DPOSpec(**{**shared, "beta": p.beta, "loss_type": p.loss_type, "lr": p.lr, "epochs": p.epochs,
                      "global_batch_size": p.global_batch_size, "per_device_batch_size": p.per_device_batch_size,
                      "max_length": p.max_length, "precompute_ref": p.precompute_ref, "packing": False})
    return spec, launch


def select_pairs(candidates: list[dict[str, Any]], margin: float, max_pairs: int) -> list[dict[str, Any]]:
    """Rows {gap, ...} with a gap ≥ margin (a None gap is an unscored item: never), the widest first
    when capped (ties by instruction id, so the choice is the same on every run)."""
    kept = [c for c in candidates if c.get("gap") is not None and c["gap"] >= margin]
    if max_pairs:
        kept = sorted(kept, key=lambda c: (-c["gap"], c["instruction_id"]))[:max_pairs]
    return sorted(kept, key=lambda c: c["instruction_id"])


def judged_pairs(ctx: LoopContext, before: int) -> list[dict[str, Any]]:
    """Every labelled item of the iterations before `before` with both answers stored under the
    project's keys: chosen = the teacher's, rejected = the student's that the referee judged. An item
    judged in several iterations keeps its latest judgement."""
    labels = [r for r in judged_labels(ctx.store) if r.iteration < before]
    ids = sorted({r.instruction_id for r in labels})
    by_id = {ins.id: ins for ins in get_instructions(ctx.store, ids)}
    teacher = answers(ctx.store, ids, Role.TEACHER.value, ctx.keys.teacher_model, ctx.keys.teacher_hash)
    students: dict[int, dict[int, str]] = {}
    latest: dict[int, dict[str, Any]] = {}
    for r in labels:  # by iteration, then instruction: a later judgement replaces an earlier one
        if r.iteration not in students:
            students[r.iteration] = answers(ctx.store, ids, Role.STUDENT.value, ctx.keys.student_label(r.iteration),
                                            ctx.keys.student_hash)
        student = students[r.iteration].get(r.instruction_id)
        if r.instruction_id not in teacher or student is None:
            continue
        ins = by_id[r.instruction_id]
        latest[r.instruction_id] = {
            "prompt": user_text(ins.text, ins.input), "chosen": teacher[r.instruction_id], "rejected": student,
            "instruction": ins.text, "input": ins.input, "instruction_id": r.instruction_id, "gap": r.gap,
            "iteration": r.iteration}
    return list(latest.values())


def runs_after(settings: Settings, iteration: int, iterations: int) -> bool:
    """Whether the preference stage follows this iteration's imitation."""
    p = settings.preference
    return p.enabled and (p.when == "each" or iteration == iterations)


async def run_preference(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    """DPO of the iteration's SFT student on the pairs judged so far; the tuned model becomes the
    iteration's student. Resumable: a finished run is not repeated, a killed one goes on from its
    checkpoint with its stored reference log-probabilities (the pairs file is rewritten byte for byte)."""
    from lion_cli.student.jobs import dpo

    out_dir = ctx.students_dir / f"iter-{iteration}" / "preference"
    current = student_path(ctx.store, iteration)
    if current is None:
        raise RuntimeError(f"iteration {iteration}: no SFT student to tune")
    if Path(current).resolve() == (out_dir / "final").resolve():
        return json.loads((out_dir / DETAIL_NAME).read_text(encoding="utf-8"))
    p = ctx.settings.preference
    margin = p.pair_margin(ctx.settings.loop.tau)
    pairs = select_pairs(judged_pairs(ctx, iteration), margin, p.max_pairs)
    if not pairs:
        return {"pairs": 0, "margin": margin, "skipped": "no judged pair reaches the margin yet"}
    data = out_dir / "pairs.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in pairs), encoding="utf-8")
    spec, launch = dpo_spec(ctx.settings, model_path=current, pairs_path=data, output_dir=out_dir,
                            project_dir=ctx.project_dir)
    spec.job_id = project_job_id(ctx.store, iteration, "dpo")  # no other project's checkpoint is resumed
    log(f"it{iteration} preference · DPO on {len(pairs)} pairs (gap ≥ {margin}) from {current} ({launch.launcher})")
    job = start_job(ctx.store, iteration, "dpo", spec.to_json(), str(out_dir), None)
    on_metric = relay(lambda m: add_metric(ctx.store, job, m))  # made here: it posts to this event loop
    final = await run_recorded(ctx.store, job, lambda cancel: dpo(spec, launch, on_metric=on_metric, cancel=cancel),
                               lambda: None)
    detail = {"pairs": len(pairs), "margin": margin, "sft_student": current, "student_path": str(final),
              **last_step(ctx, job)}
    (out_dir / DETAIL_NAME).write_text(json.dumps(detail) + "\n", encoding="utf-8")
    with ctx.store.tx():
        set_student_path(ctx.store, iteration, str(final))
    return detail


def last_step(ctx: LoopContext, job: int) -> dict[str, Any]:
    rows = job_metrics(ctx.store, job)
    return {k: rows[-1][k] for k in ("loss", "margin", "accuracy")} if rows else {}


async def with_preference(ctx: LoopContext, iteration: int, iterations: int, detail: dict[str, Any]) -> dict[str, Any]:
    """The imitation stage's detail, with the preference stage's under "preference" when it runs here."""
    if not runs_after(ctx.settings, iteration, iterations):
        return detail
    return {**detail, "preference": await run_preference(ctx, iteration)}
