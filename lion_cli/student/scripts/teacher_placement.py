"""Where the distillation teacher lives in each training process: placed as the student is.

- one process, DDP, ZeRO-1/2: a full copy in every process (loaded in the training's compute dtype and
  placed by distill.load_teacher). ZeRO-1/2 shard the optimizer state and the gradients, and a frozen
  teacher has neither.
- ZeRO-3: transformers loads the teacher already partitioned (zero.Init, while the Trainer's DeepSpeed
  config says stage 3), and it gets a DeepSpeed engine of its own, without optimizer, from a copy of the
  student's config: each layer's weights are gathered for its forward and freed after.
- FSDP (several processes; the Trainer runs FSDP on CUDA only): each decoder layer, then the whole model,
  sharded with torch's fully_shard and gathered layer by layer in the forward.

A sharded forward is a collective: every process must call the teacher the same number of times. They
do: the loss and the held-out KL run on every rank, on batches of the same count.
"""

from __future__ import annotations

import copy
from typing import Any

# What a frozen model's engine must not be given: it has nothing to optimise.
TRAINING_ONLY_KEYS = ("optimizer", "scheduler")


def place_teacher(trainer: Any, teacher: Any) -> Any:
    """The teacher ready for the forward of `trainer`'s first step (called once, after the Trainer
    prepared the student, so its DeepSpeed config has every "auto" value filled)."""
    if trainer.is_deepspeed_enabled and zero_stage(trainer) == 3:
        return deepspeed_teacher(teacher, trainer.accelerator.state.deepspeed_plugin.deepspeed_config)
    if trainer.is_fsdp_enabled:
        return fsdp_teacher(teacher)
    return teacher


def zero_stage(trainer: Any) -> int:
    config = trainer.accelerator.state.deepspeed_plugin.deepspeed_config
    return int(config.get("zero_optimization", {}).get("stage", 0))


def teacher_engine_config(student_config: dict[str, Any], hidden_size: int | None) -> dict[str, Any]:
    """The student's DeepSpeed config for a frozen ZeRO-3 model: no optimizer or scheduler, and the
    buckets sized from the teacher's own hidden size (the student's were sized from the student's)."""
    config = {k: v for k, v in copy.deepcopy(student_config).items() if k not in TRAINING_ONLY_KEYS}
    zero = config.setdefault("zero_optimization", {})
    if hidden_size:
        zero["reduce_bucket_size"] = hidden_size * hidden_size
        zero["stage3_prefetch_bucket_size"] = int(0.9 * hidden_size * hidden_size)
        zero["stage3_param_persistence_threshold"] = 10 * hidden_size
    return config


def deepspeed_teacher(teacher: Any, student_config: dict[str, Any]) -> Any:
    import deepspeed

    hidden = getattr(teacher.config, "hidden_size", None)
    engine, *_ = deepspeed.initialize(model=teacher, config=teacher_engine_config(student_config, hidden))
    engine.eval()
    return engine


def fsdp_teacher(teacher: Any) -> Any:
    """Each decoder layer its own shard unit (so one layer is gathered at a time), then the rest."""
    from torch.distributed.fsdp import fully_shard

    from lion_cli.student.specs.train import decoder_layer_classes

    names = set(decoder_layer_classes(teacher))
    for module in teacher.modules():
        if type(module).__name__ in names:
            fully_shard(module)
    # The root too gives its gathered weights back after each forward (FSDP keeps a root's for the backward
    # by default, and a teacher has no backward).
    fully_shard(teacher, reshard_after_forward=True)
    return teacher.eval()


def held_share(teacher: Any) -> tuple[int, int]:
    """(parameters this process holds, parameters in the model): equal for a replicated teacher."""
    module = getattr(teacher, "module", teacher)  # a DeepSpeed engine wraps the model
    held = total = 0
    for p in module.parameters():
        if hasattr(p, "ds_numel"):        # ZeRO-3: the local partition of a full ds_numel
            held, total = held + p.ds_tensor.numel(), total + p.ds_numel
        elif hasattr(p, "to_local"):      # FSDP2: a DTensor sharded over the processes
            held, total = held + p.to_local().numel(), total + p.numel()
        else:
            held, total = held + p.numel(), total + p.numel()
    return held, total
