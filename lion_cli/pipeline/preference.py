"""The preference stage: DPO on the referee's judgements (the LIONs pipeline's step after SFT).

Pairs come from the store: for an iteration's labelled Cache Pool items, chosen = the teacher's
answer, rejected = that iteration's student's answer, kept where the referee's averaged gap
(teacher − student over both orders) is at least [preference] margin (default [loop] tau). Unscored
items never pair; a cap keeps the widest gaps. dpo_spec maps [student] and [preference] onto the
student layer's DPOSpec, for the stage and for `lion student dpo`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from lion_cli.config import Settings
from lion_cli.pipeline.student_specs import specs_from_settings
from lion_cli.student.specs import DPOSpec, LaunchConfig


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
