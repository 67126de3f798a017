"""The choices a spec key may take, each declared once: a Literal type (for the annotations, and for
config.py's settings) and the tuple of its values (for checks and messages)."""

from __future__ import annotations

from typing import Literal, get_args

# The instruction layouts of training and generation (see scripts/prompt.py).
PromptFormat = Literal["alpaca", "chat"]
# Generation also takes ready prompt text ("raw") or a message list through the chat template.
GenPromptFormat = Literal[PromptFormat, "raw", "chat_raw"]
ScorePromptFormat = Literal[PromptFormat, "raw"]
DeepSpeedStrategy = Literal["zero2", "zero3", "zero3_offload"]
Strategy = Literal["ddp", "fsdp", DeepSpeedStrategy]
Precision = Literal["bf16", "fp16", "fp32"]
# transformers' schedulers that need no arguments beyond the warm-up and the step count.
LrScheduler = Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                      "constant_with_warmup", "inverse_sqrt"]
DType = Literal["auto", "fp32", "bf16", "fp16"]
GenBackend = Literal["hf", "vllm"]
Launcher = Literal["python", "torchrun", "deepspeed", "accelerate"]
# What training minimises: cross-entropy on the teacher's answers (sft), or a divergence from a local
# teacher model's token distributions over those answers (scripts/kd_losses.py).
Objective = Literal["sft", "kl", "rkl", "skew_kl", "skew_rkl"]
# Whether distillation also trains on the student's own samples (scripts/sgo.py).
Sgo = Literal["off", "adaptive"]

PROMPT_FORMATS: tuple[str, ...] = get_args(PromptFormat)
GEN_PROMPT_FORMATS: tuple[str, ...] = get_args(GenPromptFormat)
STRATEGIES: tuple[str, ...] = get_args(Strategy)
DEEPSPEED_STRATEGIES: tuple[str, ...] = get_args(DeepSpeedStrategy)
GEN_BACKENDS: tuple[str, ...] = get_args(GenBackend)
DTYPES: tuple[str, ...] = get_args(DType)
LAUNCHERS: tuple[str, ...] = get_args(Launcher)
OBJECTIVES: tuple[str, ...] = get_args(Objective)
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
