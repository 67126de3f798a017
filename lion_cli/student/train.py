"""Training entry script: `python -m lion_cli.student.train --spec spec.json`, also under torchrun or
deepspeed (`--local_rank`/`--local-rank` are accepted and ignored: the env says the rank; `--deepspeed
cfg.json` overrides the spec's strategy). Standalone: imports torch/transformers/peft and the standalone
siblings formats, sft_data, batching, train_callbacks only.

Spec (JSON object; unknown keys are an error; [default]):
  model_path            str    HF model folder or hub id to start from                      (required)
  data_path             str    JSONL rows {instruction, input?, output}                      (required)
  output_dir            str    checkpoints, metrics.jsonl and final/ go here                 (required)
  prompt_format         str    "alpaca" | "chat" (see formats.py)                            ["alpaca"]
  epochs                float                                                                [3.0]
  lr                    float  peak learning rate                                            [2e-5]
  lr_scheduler          str    any transformers scheduler name (cosine, linear, constant...)  ["cosine"]
  warmup_ratio          float  share of steps spent warming up                               [0.03]
  weight_decay          float                                                                [0.0]
  global_batch_size     int    examples (packed rows with packing) per optimizer step, held
                               constant: accumulation = global / (per_device × world size)  [128]
  per_device_batch_size int                                                                  [4]
  max_length            int    tokens per example (per packed row); longer ones are cut      [1024]
  precision             str    "bf16" | "fp16" | "fp32"; CPU runs use fp32 (said on stderr)  ["bf16"]
  tf32                  bool   allow TF32 matmuls (CUDA only)                                [true]
  gradient_checkpointing bool                                                                [false]
  packing               bool   pack examples into rows of ≤ max_length, no cross-attention   [false]
  strategy              str    "ddp" | "fsdp" | "zero2" | "zero3" | "zero3_offload" | a DeepSpeed
                               JSON path. fsdp needs CUDA (CPU: DDP, with a warning)         ["ddp"]
  lora                  obj    {enabled [false], r [8], alpha [16], dropout [0.05],
                               target_modules [q,k,v,o_proj]}; merged into final/ after
  save_steps            int    checkpoint-N every this many optimizer steps                  [200]
  save_total_limit      int    checkpoints kept (the newest ones)                            [2]
  seed                  int                                                                  [42]
  max_steps             int|null  stop after this many optimizer steps (tests)               [null]

Outputs: output_dir/checkpoint-N (resumed from automatically when present), output_dir/final
(safetensors + tokenizer + config, written atomically), output_dir/metrics.jsonl (train_callbacks.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

DS_CONFIGS = Path(__file__).with_name("ds_configs")
DS_NAMES = ("zero2", "zero3", "zero3_offload")
LORA_DEFAULTS: dict[str, Any] = {"enabled": False, "r": 8, "alpha": 16, "dropout": 0.05,
                                 "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
DEFAULTS: dict[str, Any] = {
    "prompt_format": "alpaca", "epochs": 3.0, "lr": 2e-5, "lr_scheduler": "cosine", "warmup_ratio": 0.03,
    "weight_decay": 0.0, "global_batch_size": 128, "per_device_batch_size": 4, "max_length": 1024,
    "precision": "bf16", "tf32": True, "gradient_checkpointing": False, "packing": False, "strategy": "ddp",
    "lora": LORA_DEFAULTS, "save_steps": 200, "save_total_limit": 2, "seed": 42, "max_steps": None,
}
REQUIRED = ("model_path", "data_path", "output_dir")


class SpecError(ValueError):
    """A spec problem: exit code 2 with the key named."""


def log(msg: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"[train] {msg}", file=sys.stderr, flush=True)


def load_spec(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the spec ({exc})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a JSON object")
    unknown = sorted(set(raw) - set(DEFAULTS) - set(REQUIRED))
    if unknown:
        raise SpecError(f"{path}: unknown key(s) {unknown}")
    missing = [k for k in REQUIRED if not raw.get(k)]
    if missing:
        raise SpecError(f"{path}: missing key(s) {missing}")
    spec = {**DEFAULTS, **raw, "lora": {**LORA_DEFAULTS, **(raw.get("lora") or {})}}
    if spec["prompt_format"] not in ("alpaca", "chat"):
        raise SpecError(f"{path}: key 'prompt_format': expected 'alpaca' or 'chat', got {spec['prompt_format']!r}")
    if spec["precision"] not in ("bf16", "fp16", "fp32"):
        raise SpecError(f"{path}: key 'precision': expected bf16, fp16 or fp32, got {spec['precision']!r}")
    return spec


def deepspeed_config(strategy: str, override: str | None) -> str | None:
    """The DeepSpeed JSON path for a strategy name or path; None for ddp/fsdp."""
    if override:
        return override
    if strategy in DS_NAMES:
        return str(DS_CONFIGS / f"{strategy}.json")
    if strategy in ("ddp", "fsdp"):
        return None
    if strategy.endswith(".json") and Path(strategy).is_file():
        return strategy
    raise SpecError(f"key 'strategy': expected ddp, fsdp, {', '.join(DS_NAMES)} or an existing .json path, "
                    f"got {strategy!r}")


def last_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (trainer_state.json is written last; a half-written one is skipped)."""
    done = [p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
            and (p / "trainer_state.json").exists()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _single_process_env() -> None:
    # DeepSpeed without a launcher needs the torch.distributed env, or it reaches for MPI.
    import socket

    if "RANK" in os.environ:
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


def training_args(spec: dict[str, Any], ds_config: str | None, world: int, layer_cls: str | None) -> Any:
    import torch
    from transformers import TrainingArguments

    from lion_cli.student.batching import grad_accum_steps

    cuda = torch.cuda.is_available()
    precision = spec["precision"]
    if not cuda and precision != "fp32":
        log(f"precision {precision} asked but no CUDA device: training in fp32 on CPU")
        precision = "fp32"
    fsdp: dict[str, Any] = {}
    if spec["strategy"] == "fsdp" and not ds_config:
        if cuda:
            fsdp = {"fsdp": "full_shard auto_wrap",
                    "fsdp_config": {"transformer_layer_cls_to_wrap": [layer_cls]} if layer_cls else {}}
        else:
            log("strategy fsdp needs CUDA devices; on CPU the Trainer ignores it, so this run uses DDP")
    accum = grad_accum_steps(spec["global_batch_size"], spec["per_device_batch_size"], world)
    log(f"world size {world} × per-device batch {spec['per_device_batch_size']} × accumulation {accum} "
        f"= global batch {spec['global_batch_size']}")
    return TrainingArguments(
        output_dir=spec["output_dir"], num_train_epochs=spec["epochs"], max_steps=spec["max_steps"] or -1,
        # warmup_steps: a float < 1 is a ratio in transformers 5 (warmup_ratio is deprecated there).
        learning_rate=spec["lr"], lr_scheduler_type=spec["lr_scheduler"], warmup_steps=float(spec["warmup_ratio"]),
        weight_decay=spec["weight_decay"], per_device_train_batch_size=spec["per_device_batch_size"],
        gradient_accumulation_steps=accum, bf16=precision == "bf16", fp16=precision == "fp16",
        tf32=bool(spec["tf32"]) if cuda else None, activation_checkpointing=spec["gradient_checkpointing"],
        activation_checkpointing_kwargs={"use_reentrant": False}, save_strategy="steps",
        save_steps=spec["save_steps"], save_total_limit=spec["save_total_limit"], logging_steps=1,
        seed=spec["seed"], data_seed=spec["seed"], report_to="none", disable_tqdm=True,
        remove_unused_columns=False, include_num_input_tokens_seen="non_padding",
        ddp_find_unused_parameters=False, dataloader_num_workers=0, deepspeed=ds_config,
        # Without use_cpu a multi-process CPU run silently does not synchronise (NOTES_STACK).
        use_cpu=not cuda, **fsdp)


def build_dataset(spec: dict[str, Any], tokenizer: Any) -> list[dict[str, list[int]]]:
    from lion_cli.student.sft_data import has_answer, load_rows, pack_examples, tokenize_example

    rows = load_rows(Path(spec["data_path"]))
    examples = [tokenize_example(tokenizer, r, spec["prompt_format"], spec["max_length"]) for r in rows]
    kept = [e for e in examples if has_answer(e)]
    if len(kept) < len(examples):
        log(f"{len(examples) - len(kept)} example(s) dropped: the prompt alone fills max_length")
    if not kept:
        raise SpecError(f"{spec['data_path']}: no example has an answer token left within max_length")
    if spec["packing"]:
        packed = pack_examples(kept, spec["max_length"])
        log(f"packed {len(kept)} examples into {len(packed)} rows of ≤ {spec['max_length']} tokens")
        return packed
    return kept


def run(spec: dict[str, Any], ds_override: str | None) -> Path:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer
    from transformers.integrations import is_deepspeed_zero3_enabled

    from lion_cli.student.sft_data import ensure_pad_token, training_forward_mode
    from lion_cli.student.train_callbacks import MetricsCallback, finish, is_rank0

    transformers.logging.set_verbosity_warning()
    transformers.logging.disable_progress_bar()
    out = Path(spec["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    ds_config = deepspeed_config(spec["strategy"], ds_override)
    if ds_config:
        _single_process_env()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    # DeepSpeed args come first so that ZeRO-3 loads the model already partitioned (zero.Init).
    args = training_args(spec, ds_config, world, None) if ds_config else None
    if args is not None:
        # Set up torch.distributed and DeepSpeed's comm layer now: zero.Init inside from_pretrained
        # otherwise sizes the batch for a world of 1 and fails DeepSpeed's batch assertion.
        import deepspeed

        _ = args.device
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    tokenizer = AutoTokenizer.from_pretrained(spec["model_path"])
    model: Any = AutoModelForCausalLM.from_pretrained(spec["model_path"], dtype=torch.float32)
    if args is None:
        layers = getattr(getattr(model, "model", None), "layers", None)
        args = training_args(spec, None, world, type(layers[0]).__name__ if layers else None)
    gather = None
    if is_deepspeed_zero3_enabled():
        import deepspeed

        gather = deepspeed.zero.GatheredParameters
    if ensure_pad_token(tokenizer, model, gather):
        log(f"the tokenizer had no pad token: added {tokenizer.pad_token!r}, its embedding = mean of the others")
    training_forward_mode(model)  # before peft wraps it: packing relies on this (sft_data.py)
    if spec["lora"]["enabled"]:
        from peft import LoraConfig, get_peft_model

        lo = spec["lora"]
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=lo["r"], lora_alpha=lo["alpha"],
                                                 lora_dropout=lo["dropout"], target_modules=lo["target_modules"]))
    dataset = build_dataset(spec, tokenizer)
    from lion_cli.student.sft_data import SFTCollator

    metrics = MetricsCallback(out / "metrics.jsonl")
    trainer = Trainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                      data_collator=SFTCollator(tokenizer.pad_token_id, packed=bool(spec["packing"])),
                      callbacks=[metrics])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the log dicts go to metrics.jsonl, not stdout
    resume = last_checkpoint(out)
    if resume is not None:
        log(f"resuming from {resume}")
        metrics.resumed_from(int(resume.name.split("-")[-1]))
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    final = finish(trainer, spec, out)
    if is_rank0():
        metrics.done(trainer.state, result.metrics, final)
    return final


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lion_cli.student.train", description="Fine-tune the student (SFT).")
    p.add_argument("--spec", required=True, type=Path, help="the training spec (JSON; see the module docstring)")
    p.add_argument("--deepspeed", default=None, help="a DeepSpeed JSON config (overrides the spec's strategy)")
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from lion_cli.student.batching import BatchSizeError
    from lion_cli.student.sft_data import DataError

    try:
        spec = load_spec(a.spec)
        final = run(spec, a.deepspeed)
    except (SpecError, DataError, BatchSizeError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    log(f"final model: {final}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
