"""Global batch arithmetic shared by the launcher side (training.py) and the entry script (train.py).

Standalone (stdlib only): the entry script may import it. The global batch is what the optimiser sees
per step, so it must not change when the number of processes does; accumulation absorbs the difference.
"""

from __future__ import annotations


class BatchSizeError(ValueError):
    """The global batch cannot be split evenly over the processes."""


def grad_accum_steps(global_batch: int, per_device: int, world_size: int) -> int:
    """global = per_device × world_size × accumulation; raise with workable values when it does not divide."""
    if global_batch < 1 or per_device < 1 or world_size < 1:
        raise BatchSizeError(f"batch sizes must be ≥ 1 (global_batch_size={global_batch}, "
                             f"per_device_batch_size={per_device}, world_size={world_size})")
    step = per_device * world_size
    if global_batch % step == 0:
        return global_batch // step
    per_device_ok = [p for p in range(1, global_batch + 1) if global_batch % (p * world_size) == 0]
    lower = (global_batch // step) * step
    globals_ok = sorted({g for g in (lower, lower + step) if g > 0})
    hint_p = f"per_device_batch_size in {per_device_ok}" if per_device_ok else (
        f"no per_device_batch_size works with {world_size} processes")
    raise BatchSizeError(
        f"global_batch_size {global_batch} is not divisible by per_device_batch_size {per_device} × "
        f"world_size {world_size} = {step}; use global_batch_size {' or '.join(map(str, globals_ok))}, "
        f"or {hint_p}")
