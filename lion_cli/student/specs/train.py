"""The training job's spec (scripts/train.py reads it) and the batch arithmetic both sides check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lion_cli.student.specs.base import FRACTION, NOT_NEGATIVE, POSITIVE, Limit, Spec, SpecError
from lion_cli.student.specs.choices import (
    DEEPSPEED_STRATEGIES,
    LORA_TARGET_MODULES,
    STRATEGIES,
    LrScheduler,
    Objective,
    Precision,
    PromptFormat,
    Sgo,
)


def decoder_layer_classes(model: Any) -> list[str]:
    """The class names FSDP wraps one unit each: the model's own decoder layer, read from transformers'
    `_no_split_modules` (LlamaDecoderLayer, ...); else the class of `model.model.layers[0]`."""
    named = [str(n) for n in (getattr(model, "_no_split_modules", None) or [])]
    if named:
        return named
    layers = getattr(getattr(model, "model", None), "layers", None)
    return [type(layers[0]).__name__] if layers else []


def fsdp_arguments(strategy: str, world_size: int, layer_classes: Sequence[str]) -> dict[str, Any]:
    """The Trainer's FSDP arguments for a strategy: full shard with auto-wrapping of `layer_classes`
    for fsdp when more than one process trains; nothing otherwise (ddp, DeepSpeed, a single process)."""
    if strategy != "fsdp" or world_size <= 1:
        return {}
    config = {"transformer_layer_cls_to_wrap": list(layer_classes)} if layer_classes else {}
    return {"fsdp": "full_shard auto_wrap", "fsdp_config": config}


def distillation_problems(objective: str, teacher_model: str = "x", heldout_rows: int = 0, sgo: str = "off",
                          packing: bool = False, prefix: str = "") -> dict[str, str]:
    """key → why, for each distillation key whose value does not go with the others (the spec's
    validate and config.py's [student] checks both ask here; a key not yet known takes a value that
    breaks no rule). `prefix` goes before the key names the reasons mention ("student." in lion.toml)."""
    problems: dict[str, str] = {}
    if objective == "sft":
        if heldout_rows:
            problems["heldout_rows"] = ("the held-out rows are scored against the teacher: they need an objective "
                                        f"other than sft ({prefix}objective)")
        if sgo != "off":
            problems["sgo"] = (f"\"{sgo}\" trains on the teacher's token distributions: it needs an objective "
                               f"other than sft ({prefix}objective)")
        return problems
    if not teacher_model.strip():
        problems["teacher_model"] = (f"objective \"{objective}\" needs a teacher: the folder of a local teacher "
                                     "model with the student's tokenizer")
    if sgo != "off" and (heldout_rows < 1 or packing):
        problems["sgo"] = (f"\"{sgo}\" needs {prefix}heldout_rows ≥ 1 (its schedule follows the held-out KL) and "
                           f"{prefix}packing off (it reads each row's prompt)")
    return problems


def sgo_strategy_problem(sgo: str, strategy: str, processes: int, prefix: str = "") -> str | None:
    """Why student-generated outputs cannot run under this strategy, or None. Under FSDP every process
    would sample from its own shard of the student; ZeRO-3 gathers the weights for each step of the
    generation in lock-step (and is tested so), a single process or DDP holds the whole student.
    `prefix` goes before the key names the reason mentions ("student." in lion.toml)."""
    if sgo == "off" or strategy != "fsdp" or processes <= 1:
        return None
    return (f"\"{sgo}\" under {prefix}strategy fsdp with {processes} processes is not supported (the student "
            f"would sample from sharded weights): use {prefix}strategy \"zero3\" (sharded, samples in lock-step) "
            "or \"ddp\"")


class BatchSizeError(SpecError):
    """The global batch cannot be split evenly over the processes."""


def grad_accum_steps(global_batch: int, per_device: int, world_size: int) -> int:
    """global = per_device × world_size × accumulation, held constant whatever the number of processes
    (the optimiser sees the same batch per step); raise with values that work when it does not divide."""
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


# Written beside a trained model's weights: {"prompt_format": "alpaca" | "chat"}.
PROMPT_RECORD = "lion-prompt.json"

@dataclass
class LoraSpec(Spec):
    """LoRA adapters trained instead of all weights, merged into a full model after training."""

    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGET_MODULES))

    limits: ClassVar[dict[str, Limit]] = {"r": POSITIVE, "alpha": POSITIVE, "dropout": FRACTION}


@dataclass
class TrainSpec(Spec):
    """The training script's spec (scripts/train.py): supervised fine-tuning on {instruction, input?,
    output} rows. Outputs go to output_dir: checkpoint-N (resumed from when its record is this job's),
    metrics.jsonl, final/."""

    model_path: str  # HF model folder or hub id to start from
    data_path: str  # JSONL rows {instruction, input?, output}
    output_dir: str
    prompt_format: PromptFormat = "alpaca"
    epochs: float = 3.0
    lr: float = 2e-5  # the peak learning rate
    lr_scheduler: LrScheduler = "cosine"
    warmup_ratio: float = 0.03  # share of the steps spent warming up
    weight_decay: float = 0.0
    # Examples (packed rows with packing) per optimizer step, whatever the number of processes:
    # accumulation = global / (per_device × world size).
    global_batch_size: int = 128
    per_device_batch_size: int = 4
    max_length: int = 1024  # tokens per example (per packed row); longer ones are cut
    precision: Precision = "bf16"  # CPU runs train in fp32 (said on stderr)
    tf32: bool = True  # allow TF32 matmuls (CUDA only)
    gradient_checkpointing: bool = False
    packing: bool = False  # pack examples into rows of ≤ max_length, no attention across examples
    # A Strategy name, or the path of a DeepSpeed JSON config. fsdp (the paper's): full shard, each of the
    # model's decoder layers wrapped, when more than one process trains (fsdp_arguments); one process
    # trains plainly, and CPU runs use DDP (the Trainer ignores FSDP without CUDA).
    strategy: str = "fsdp"
    lora: LoraSpec = field(default_factory=LoraSpec)
    save_steps: int = 200  # checkpoint-N every this many optimizer steps
    save_total_limit: int = 2  # checkpoints kept, the newest ones
    seed: int = 42
    max_steps: int | None = None  # stop after this many optimizer steps (tests)
    # sft: cross-entropy on the answers; kl, rkl, skew_kl, skew_rkl: that divergence from teacher_model's
    # token distributions over the answer tokens (scripts/kd_losses.py). skew_alpha is the skew forms'
    # α, DistiLLM's 0.1; teacher_model is a local model folder with the student's tokenizer.
    objective: Objective = "sft"
    skew_alpha: float = 0.1
    teacher_model: str = ""
    # The data file's last heldout_rows rows are not trained on: each checkpoint step scores the student's
    # KL to the teacher over their answers (the step line's "heldout_kl"; distill.py). 0: no held-out slice.
    heldout_rows: int = 0
    # Student-generated outputs (scripts/sgo.py): "adaptive" trains on the student's own samples with a
    # probability that rises while the held-out KL stalls (DistiLLM's scheme); needs a non-sft objective,
    # held-out rows and no packing. "off" (DistiLLM's baseline, and lion's default): the teacher's answers only.
    sgo: Sgo = "off"
    # Who asked for the job (the project and iteration): a checkpoint recorded under another id, or
    # with other data or settings, is not resumed from (scripts/checkpoint_record.py).
    job_id: str = ""

    limits: ClassVar[dict[str, Limit]] = {
        "epochs": POSITIVE, "lr": POSITIVE, "warmup_ratio": FRACTION, "weight_decay": NOT_NEGATIVE,
        "global_batch_size": POSITIVE, "per_device_batch_size": POSITIVE, "max_length": POSITIVE,
        "save_steps": POSITIVE, "save_total_limit": POSITIVE, "max_steps": (lambda v: v is None or v > 0, "> 0"),
        "skew_alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"), "heldout_rows": NOT_NEGATIVE,
    }

    def validate(self, world_size: int = 1) -> None:
        """Also: the strategy names a known one or an existing config file, the data file exists, and
        the global batch splits over `world_size` processes."""
        super().validate()
        if self.strategy not in STRATEGIES and not (self.strategy.endswith(".json") and Path(self.strategy).is_file()):
            raise SpecError(f"strategy {self.strategy!r}: expected one of {', '.join(STRATEGIES)} "
                            "or the path of an existing DeepSpeed .json config")
        if not Path(self.data_path).is_file():
            raise SpecError(f"data_path {self.data_path}: no such file")
        self._check_teacher()
        if problem := sgo_strategy_problem(self.sgo, self.strategy, world_size):
            raise SpecError(f"key 'sgo': {problem}")
        self.accumulation(world_size)

    def _check_teacher(self) -> None:
        for key, why in distillation_problems(self.objective, self.teacher_model, self.heldout_rows, self.sgo,
                                              self.packing).items():
            raise SpecError(f"key '{key}': {why}")
        if self.objective != "sft" and not (Path(self.teacher_model) / "config.json").is_file():
            raise SpecError(f"key 'teacher_model': {self.teacher_model} is not a model folder (no config.json)")

    def accumulation(self, world_size: int) -> int:
        return grad_accum_steps(self.global_batch_size, self.per_device_batch_size, world_size)

    def uses_deepspeed(self) -> bool:
        return self.strategy in DEEPSPEED_STRATEGIES or self.strategy.endswith(".json")

    @property
    def spec_path(self) -> Path:
        return Path(self.output_dir) / "spec.json"

    @property
    def metrics_path(self) -> Path:
        return Path(self.output_dir) / "metrics.jsonl"

    @property
    def final_dir(self) -> Path:
        return Path(self.output_dir) / "final"

    @property
    def prompt_record(self) -> Path:
        """The final model's note of the layout it was trained in, read by `lion eval --model`."""
        return self.final_dir / PROMPT_RECORD
