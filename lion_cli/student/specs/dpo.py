"""The DPO job's spec (scripts/dpo.py reads it): preference tuning on {prompt, chosen, rejected} pairs.

A DPOSpec is a TrainSpec (the same batch arithmetic, precision, strategy, LoRA, checkpoints and
resume) whose data_path is the pairs file, plus the preference settings below. `packing` does not
apply: a pair's two answers are scored as separate rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, get_args

from lion_cli.student.specs.base import NOT_NEGATIVE, POSITIVE, Limit
from lion_cli.student.specs.train import TrainSpec

# sigmoid: the DPO paper's loss; ipo: Azar et al.'s squared loss; hinge: SLiC's hinge on the margin.
DPOLoss = Literal["sigmoid", "ipo", "hinge"]
DPO_LOSSES: tuple[str, ...] = get_args(DPOLoss)
# The reference log-probabilities, written once per pair set beside the checkpoints.
REFERENCE_FILE = "reference_logps.safetensors"


@dataclass
class DPOSpec(TrainSpec):
    """DPO on pairs: JSONL rows {prompt, chosen, rejected} (TRL's layout; `instruction`/`input`, when a row
    has them, are laid out instead of `prompt`). Outputs as TrainSpec's, plus the reference file."""

    # The model whose log-probabilities anchor the loss; "" = model_path (the policy's own start).
    ref_model_path: str = ""
    beta: float = 0.1  # the DPO paper's and TRL's default temperature of the implicit reward
    loss_type: DPOLoss = "sigmoid"
    # True: the reference's log-probabilities are computed once and read from REFERENCE_FILE at
    # every step, epoch and resume; False: the reference model runs beside the policy at every step.
    precompute_ref: bool = True
    # DPO moves far less than SFT: TRL's DPOConfig default learning rate, one epoch, small batches.
    epochs: float = 1.0
    lr: float = 1e-6
    global_batch_size: int = 8
    per_device_batch_size: int = 2
    max_length: int = 512  # prompt + answer tokens per scored row

    limits: ClassVar[dict[str, Limit]] = {**TrainSpec.limits, "beta": POSITIVE, "weight_decay": NOT_NEGATIVE}

    @property
    def reference_model(self) -> str:
        return self.ref_model_path or self.model_path

    @property
    def reference_path(self) -> Path:
        return Path(self.output_dir) / REFERENCE_FILE
