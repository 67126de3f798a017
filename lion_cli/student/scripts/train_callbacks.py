"""The training script's metrics stream and final save.

metrics.jsonl lines (rank 0 only, flushed at once so a parent process can tail the file):
  {"step", "epoch", "loss", "lr", "tokens", "tokens_per_s", "total_steps", "ts"}  one per logging step
      (the DPO job adds "rewards_chosen", "rewards_rejected", "margin", "accuracy")
  {"event": "resume", "from_step"}                                             when a checkpoint is resumed
  {"event": "done", "step", "total_steps", "train_loss", "runtime_s", "final"} after final/ is written
`tokens` counts non-padding input tokens seen since step 0 (restored on resume).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lion_cli.student.specs import TrainSpec


def is_rank0() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class MetricsCallback(TrainerCallback):  # type: ignore[misc]
    # Keys of a job's own log dicts copied into its step lines too (the DPO job's rewards and margin).
    extra_keys: tuple[str, ...] = ()

    def __init__(self, path: Path, extra_keys: tuple[str, ...] = ()) -> None:
        self.path = path
        self.extra_keys = extra_keys
        self._last: tuple[float, int] | None = None

    def _write(self, row: dict[str, Any]) -> None:
        if not is_rank0():
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()

    def resumed_from(self, step: int) -> None:
        self._write({"event": "resume", "from_step": step, "ts": time.time()})

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._last = (time.time(), int(state.num_input_tokens_seen or 0))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return
        now, tokens = time.time(), int(state.num_input_tokens_seen or 0)
        t0, tok0 = self._last or (now, tokens)
        self._last = (now, tokens)
        rate = (tokens - tok0) / (now - t0) if now > t0 else 0.0
        self._write({"step": state.global_step, "epoch": round(float(state.epoch or 0.0), 4),
                     "loss": float(logs["loss"]), "lr": float(logs.get("learning_rate", 0.0)), "tokens": tokens,
                     "tokens_per_s": round(rate, 1), "total_steps": state.max_steps, "ts": now,
                     **{k: float(logs[k]) for k in self.extra_keys if k in logs}})

    def done(self, state: Any, metrics: dict[str, Any], final: Path) -> None:
        self._write({"event": "done", "step": state.global_step, "total_steps": state.max_steps,
                     "train_loss": metrics.get("train_loss"), "runtime_s": metrics.get("train_runtime"),
                     "tokens": int(state.num_input_tokens_seen or 0), "final": str(final), "ts": time.time()})


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def finish(trainer: Any, spec: TrainSpec, out: Path) -> Path:
    """Write out/final atomically (via final.partial): the full model, or base + merged LoRA adapters.

    save_model runs on every rank: under ZeRO-3 it gathers the partitioned weights collectively.
    """
    final = spec.final_dir
    partial = final.with_name(final.name + ".partial")
    config = getattr(trainer.model, "config", None)
    if config is not None:
        config.use_cache = True  # off for training only (sft_data.training_forward_mode); generation wants it
    if is_rank0() and partial.exists():
        shutil.rmtree(partial)
    _barrier()
    if not spec.lora.enabled:
        trainer.save_model(str(partial))
    else:
        adapter = out / "adapter"
        trainer.save_model(str(adapter))
        if is_rank0():
            _merge_lora(spec, trainer.processing_class, adapter, partial)
    _barrier()
    if is_rank0():
        for stray in partial.glob("training_args.bin"):
            stray.unlink()  # a pickle: the final folder holds safetensors, config and tokenizer only
        # The layout the student learnt, so `lion eval --model` asks it the same way outside the project.
        (partial / spec.prompt_record.name).write_text(json.dumps({"prompt_format": spec.prompt_format}) + "\n",
                                                       encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
    _barrier()
    return final


def _merge_lora(spec: TrainSpec, tokenizer: Any, adapter: Path, dest: Path) -> None:
    """Reload the base in a clean (unpartitioned) state, apply the adapters, fold them into the weights."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from lion_cli.student.scripts.sft_data import ensure_pad_token

    base: Any = AutoModelForCausalLM.from_pretrained(spec.model_path, dtype=torch.float32)
    if base.get_input_embeddings().weight.shape[0] < len(tokenizer):
        # The same deterministic pad-row initialisation the training run used.
        from transformers import AutoTokenizer

        ensure_pad_token(AutoTokenizer.from_pretrained(spec.model_path), base)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.config.pad_token_id = tokenizer.pad_token_id
    merged.save_pretrained(str(dest), safe_serialization=True)
    tokenizer.save_pretrained(str(dest))
