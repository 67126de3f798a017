"""Stage 1, imitation: the teacher answers the Train Pool, the student is fine-tuned on the answers."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lion_cli.config import model_location
from lion_cli.core.teacher_answers import unusable_answer
from lion_cli.core.training_set import trained_iterations
from lion_cli.core.types import Pool, Role, Stage
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.job_thread import relay, run_recorded
from lion_cli.pipeline.progress import TrainProgress, log
from lion_cli.pipeline.teacher import ensure_teacher_answers
from lion_cli.store.failures import active_failures
from lion_cli.store.jobs import add_metric, project_job_id, start_job
from lion_cli.store.loop_rows import answers, cut_off_answers
from lion_cli.store.pools import get_instructions
from lion_cli.store.progress import set_student_path, student_path
from lion_cli.store.training_set import train_pool_ids


def training_ids(ctx: LoopContext, iteration: int) -> list[int]:
    return train_pool_ids(ctx.store, trained_iterations(ctx.settings.loop.train_from, iteration))


def training_rows(ctx: LoopContext, iteration: int) -> list[dict[str, str]]:
    """The examples this iteration's student is trained on: its training pools' instructions that have
    a usable teacher answer (a failed item has none; an answer stored before replies were checked,
    core/teacher_answers.py, is never trained on either)."""
    ids = training_ids(ctx, iteration)
    got = answers(ctx.store, ids, Role.TEACHER, ctx.keys.teacher_model, ctx.keys.teacher_hash)
    return [{"instruction": ins.text, "input": ins.input, "output": got[ins.id]}
            for ins in get_instructions(ctx.store, ids) if ins.id in got and unusable_answer(got[ins.id]) is None]


def write_training_data(ctx: LoopContext, iteration: int, path: Path) -> int:
    rows = training_rows(ctx, iteration)
    random.Random(ctx.settings.loop.rng_seed + iteration).shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)
    return len(rows)


def base_for(ctx: LoopContext, iteration: int) -> str:
    if ctx.settings.loop.train_from == "previous" and iteration > 0:
        prev = student_path(ctx.store, iteration - 1)
        if prev:
            return prev
    return model_location(ctx.project_dir, ctx.settings.student.base_model)


class _TrainWatch:
    """A training job's metrics lines: each into the store, and the first one with a step starts the
    progress line (its total is not known before)."""

    def __init__(self, ctx: LoopContext, iteration: int, job: int) -> None:
        self.ctx, self.iteration, self.job = ctx, iteration, job
        self.bar: TrainProgress | None = None

    def __call__(self, m: dict[str, Any]) -> None:
        add_metric(self.ctx.store, self.job, m)
        if isinstance(m.get("step"), int) and isinstance(m.get("total_steps"), int):
            if self.bar is None:
                self.bar = TrainProgress(self.ctx.store, self.iteration, m)
            else:
                self.bar.metric(m)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


async def train_student(ctx: LoopContext, iteration: int) -> Path:
    from lion_cli.pipeline.student_specs import specs_from_settings
    from lion_cli.student.jobs import train

    done = student_path(ctx.store, iteration)
    if done and Path(done, "config.json").exists():
        return Path(done)
    out_dir = ctx.students_dir / f"iter-{iteration}"
    data = out_dir / "train.jsonl"
    n = write_training_data(ctx, iteration, data)
    if n == 0:
        raise RuntimeError(f"iteration {iteration}: no teacher answers to train on")
    spec, launch = specs_from_settings(ctx.settings, model_path=base_for(ctx, iteration), data_path=data,
                                       output_dir=out_dir, project_dir=ctx.project_dir)
    spec.job_id = project_job_id(ctx.store, iteration, "train")  # no other project's checkpoint is resumed
    log(f"it{iteration} imitation · training on {n} examples from {spec.model_path} ({launch.launcher})")
    job = start_job(ctx.store, iteration, "train", spec.to_json(), str(out_dir), None)
    watch = _TrainWatch(ctx, iteration, job)
    on_metric: Callable[[dict[str, Any]], None] = relay(watch)
    final = await run_recorded(ctx.store, job, lambda cancel: train(spec, launch, on_metric=on_metric, cancel=cancel),
                               watch.close)
    with ctx.store.tx():
        set_student_path(ctx.store, iteration, str(final))
    return final


async def run_imitation(ctx: LoopContext, iteration: int) -> dict[str, Any]:
    asked = await ensure_teacher_answers(ctx, iteration, Pool.TRAIN, Stage.IMITATION)
    final = await train_student(ctx, iteration)
    ids = training_ids(ctx, iteration)
    return {"teacher_asked": asked, "student_path": str(final), "train_examples": len(training_rows(ctx, iteration)),
            # Kept and trained on, as the paper did; counted so a too small max_tokens shows.
            "teacher_cut_off": cut_off_answers(ctx.store, ids, Role.TEACHER, ctx.keys.teacher_model,
                                               ctx.keys.teacher_hash),
            "failed_items": len(active_failures(ctx.store, iteration, Stage.IMITATION.value))}
