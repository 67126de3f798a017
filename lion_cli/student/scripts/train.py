"""Training entry script: `python -m lion_cli.student.scripts.train --spec spec.json`, also under
torchrun or deepspeed (`--local_rank`/`--local-rank` are accepted and ignored: the env says the rank;
`--deepspeed cfg.json` overrides the spec's strategy). The spec is a TrainSpec
(lion_cli/student/specs/train.py documents every key and its default).

Outputs: output_dir/checkpoint-N (resumed from when its record names this job: checkpoint_record.py), output_dir/final
(safetensors + tokenizer + config, written atomically), output_dir/metrics.jsonl (train_callbacks.py).
A spec whose objective is not "sft" distils a local teacher model's token distributions (distill.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lion_cli.student.scripts.job_log import log
from lion_cli.student.specs import DEEPSPEED_STRATEGIES, SpecError, TrainSpec
from lion_cli.student.specs.train import decoder_layer_classes, fsdp_arguments

DS_CONFIGS = Path(__file__).with_name("ds_configs")


def deepspeed_config(strategy: str, override: str | None) -> str | None:
    """The DeepSpeed JSON path for a strategy name or path; None for ddp/fsdp."""
    if override:
        return override
    if strategy in DEEPSPEED_STRATEGIES:
        return str(DS_CONFIGS / f"{strategy}.json")
    if strategy.endswith(".json"):
        return strategy  # TrainSpec.validate saw that the file exists
    return None  # ddp, fsdp


def last_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint, whichever job wrote it (its record is written last)."""
    from lion_cli.student.scripts.checkpoint_record import checkpoints

    return next(iter(checkpoints(output_dir)), None)


def own_checkpoint(trainer: Any, spec: TrainSpec, out: Path) -> Path | None:
    """This job's newest checkpoint. Any other checkpoint in out (another job's, or half-written) is
    named with the reason, never resumed from, and removed; every checkpoint saved from now on is
    recorded as this job's."""
    import shutil

    import torch.distributed as dist

    from lion_cli.student.scripts.checkpoint_record import RecordCallback, job_record, stale_and_resumable

    record = job_record(spec)
    trainer.add_callback(RecordCallback(out, record))
    stale, resume = stale_and_resumable(out, record)
    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # every rank has decided before rank 0 removes anything
    for path, why in stale:
        log(f"{path.name}: not resumed from, {why}; removed")
        if int(os.environ.get("RANK", "0")) == 0:
            shutil.rmtree(path, ignore_errors=True)
    return resume


def _single_process_env() -> None:
    # DeepSpeed without a launcher needs the torch.distributed env, or it reaches for MPI.
    import socket

    if "RANK" in os.environ:
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


def training_args(spec: TrainSpec, ds_config: str | None, world: int, layer_cls: list[str]) -> Any:
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    precision = spec.precision
    if not cuda and precision != "fp32":
        log(f"precision {precision} asked but no CUDA device: training in fp32 on CPU")
        precision = "fp32"
    fsdp = fsdp_arguments(spec.strategy, world, layer_cls) if not ds_config else {}
    if fsdp and not cuda:
        log("strategy fsdp needs CUDA devices; on CPU the Trainer ignores it, so this run uses DDP")
        fsdp = {}
    accum = spec.accumulation(world)
    log(f"world size {world} × per-device batch {spec.per_device_batch_size} × accumulation {accum} "
        f"= global batch {spec.global_batch_size}")
    return TrainingArguments(
        output_dir=spec.output_dir, num_train_epochs=spec.epochs, max_steps=spec.max_steps or -1,
        # warmup_steps: a float < 1 is a ratio in transformers 5 (warmup_ratio is deprecated there).
        learning_rate=spec.lr, lr_scheduler_type=spec.lr_scheduler, warmup_steps=float(spec.warmup_ratio),
        weight_decay=spec.weight_decay, per_device_train_batch_size=spec.per_device_batch_size,
        gradient_accumulation_steps=accum, bf16=precision == "bf16", fp16=precision == "fp16",
        tf32=spec.tf32 if cuda else None, activation_checkpointing=spec.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False}, save_strategy="steps",
        save_steps=spec.save_steps, save_total_limit=spec.save_total_limit, logging_steps=1,
        seed=spec.seed, data_seed=spec.seed, report_to="none", disable_tqdm=True,
        remove_unused_columns=False, include_num_input_tokens_seen="non_padding",
        ddp_find_unused_parameters=False, dataloader_num_workers=0, deepspeed=ds_config,
        # Without use_cpu a multi-process CPU run silently does not synchronise.
        use_cpu=not cuda, **fsdp)


def split_rows(spec: TrainSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the rows trained on, the held-out rows: the data file's last heldout_rows, never trained on)."""
    from lion_cli.student.scripts.sft_data import load_rows

    rows = load_rows(Path(spec.data_path))
    if not spec.heldout_rows:
        return rows, []
    if len(rows) <= spec.heldout_rows:
        raise SpecError(f"heldout_rows {spec.heldout_rows}: {spec.data_path} has only {len(rows)} rows, "
                        "none would be left to train on")
    return rows[:-spec.heldout_rows], rows[-spec.heldout_rows:]


def build_dataset(spec: TrainSpec, tokenizer: Any, rows: list[dict[str, Any]]) -> list[dict[str, list[int]]]:
    """The rows trained on (split_rows), tokenised, and packed when the spec says so."""
    from lion_cli.student.scripts.sft_data import has_answer, pack_examples, tokenize_example

    examples = [tokenize_example(tokenizer, r, spec.prompt_format, spec.max_length) for r in rows]
    kept = [e for e in examples if has_answer(e)]
    if len(kept) < len(examples):
        log(f"{len(examples) - len(kept)} example(s) dropped: the prompt alone fills max_length")
    if not kept:
        raise SpecError(f"{spec.data_path}: no example has an answer token left within max_length")
    if spec.packing:
        packed = pack_examples(kept, spec.max_length)
        log(f"packed {len(kept)} examples into {len(packed)} rows of ≤ {spec.max_length} tokens")
        return packed
    return kept


def heldout_examples(spec: TrainSpec, tokenizer: Any, held: list[dict[str, Any]]) -> list[dict[str, list[int]]]:
    """The held-out rows (split_rows), tokenised as training rows (those with an answer token)."""
    from lion_cli.student.scripts.sft_data import has_answer, tokenize_example

    examples = [tokenize_example(tokenizer, r, spec.prompt_format, spec.max_length) for r in held]
    return [e for e in examples if has_answer(e)]


def load_for_training(spec: TrainSpec, ds_config: str | None, world: int) -> tuple[Any, Any, Any]:
    """(model ready for the Trainer, its tokenizer, TrainingArguments): pad token added, KV cache off,
    LoRA adapters attached when asked."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lion_cli.student.scripts.sft_data import ensure_pad_token, training_forward_mode, zero3_gather

    # DeepSpeed args come first so that ZeRO-3 loads the model already partitioned (zero.Init).
    args = training_args(spec, ds_config, world, []) if ds_config else None
    if args is not None:
        # Set up torch.distributed and DeepSpeed's comm layer now: zero.Init inside from_pretrained
        # otherwise sizes the batch for a world of 1 and fails DeepSpeed's batch assertion.
        import deepspeed

        _ = args.device
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    tokenizer = AutoTokenizer.from_pretrained(spec.model_path)
    model: Any = AutoModelForCausalLM.from_pretrained(spec.model_path, dtype=torch.float32)
    if args is None:
        args = training_args(spec, None, world, decoder_layer_classes(model))
    if ensure_pad_token(tokenizer, model, zero3_gather()):
        log(f"the tokenizer had no pad token: added {tokenizer.pad_token!r}, its embedding = mean of the others")
    training_forward_mode(model)  # before peft wraps it: packing relies on this (sft_data.py)
    if spec.lora.enabled:
        from peft import LoraConfig, get_peft_model

        lo = spec.lora
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=lo.r, lora_alpha=lo.alpha,
                                                 lora_dropout=lo.dropout, target_modules=lo.target_modules))
    return model, tokenizer, args


def prepare(spec: TrainSpec, ds_override: str | None) -> tuple[Any, Any, Any]:
    """The job's folder made and (model, tokenizer, TrainingArguments) loaded: what SFT and DPO share."""
    import transformers

    transformers.logging.set_verbosity_warning()
    transformers.logging.disable_progress_bar()
    Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
    ds_config = deepspeed_config(spec.strategy, ds_override)
    if ds_config:
        _single_process_env()
    return load_for_training(spec, ds_config, int(os.environ.get("WORLD_SIZE", "1")))


def run(spec: TrainSpec, ds_override: str | None) -> Path:
    from transformers import Trainer

    from lion_cli.student.scripts.sft_data import SFTCollator
    from lion_cli.student.scripts.train_callbacks import MetricsCallback

    model, tokenizer, args = prepare(spec, ds_override)
    rows, held = split_rows(spec)   # the data file read once
    # The held-out KL and the student-generated outputs' state, on distillation's step lines (distill.py).
    metrics = MetricsCallback(spec.metrics_path, ("heldout_kl", "sgo_probability", "sgo_batches"))
    shared = dict(model=model, args=args, train_dataset=build_dataset(spec, tokenizer, rows),
                  processing_class=tokenizer, data_collator=SFTCollator(tokenizer.pad_token_id, packed=spec.packing),
                  callbacks=[metrics])
    if spec.objective == "sft":
        return train_and_finish(Trainer(**shared), spec, metrics)
    from lion_cli.student.scripts.distill import DistillTrainer, load_teacher

    log(f"objective {spec.objective} (white-box distillation) from the teacher {spec.teacher_model}")
    teacher = load_teacher(spec, len(tokenizer), args)
    trainer = DistillTrainer(**shared, teacher=teacher, objective=spec.objective, alpha=spec.skew_alpha,
                             vocab_size=len(tokenizer), heldout=heldout_examples(spec, tokenizer, held),
                             sgo=spec.sgo == "adaptive", max_length=spec.max_length)
    return train_and_finish(trainer, spec, metrics)


def train_and_finish(trainer: Any, spec: TrainSpec, metrics: Any) -> Path:
    """Resume from this job's own checkpoint if any, train, write final/ and the done line."""
    from transformers.trainer_callback import PrinterCallback

    from lion_cli.student.scripts.train_callbacks import finish, is_rank0

    out = Path(spec.output_dir)
    trainer.remove_callback(PrinterCallback)  # the log dicts go to metrics.jsonl, not stdout
    resume = own_checkpoint(trainer, spec, out)
    if resume is not None:
        log(f"resuming from {resume}")
        metrics.resumed_from(int(resume.name.split("-")[-1]))
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    final = finish(trainer, spec, out)
    if is_rank0():
        metrics.done(trainer.state, result.metrics, final)
    return final


def main(argv: list[str] | None = None) -> int:
    return entry(argv, "train", "Fine-tune the student (SFT).", lambda path, ds: run(TrainSpec.read(path), ds))


def entry(argv: list[str] | None, name: str, description: str, job: Callable[[Path, str | None], Path]) -> int:
    """The command line every training entry script takes; exit 2 for a spec or data file that cannot work."""
    p = argparse.ArgumentParser(prog=f"python -m lion_cli.student.scripts.{name}", description=description)
    p.add_argument("--spec", required=True, type=Path, help="the job's spec (JSON; see lion_cli.student.specs)")
    p.add_argument("--deepspeed", default=None, help="a DeepSpeed JSON config (overrides the spec's strategy)")
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        final = job(a.spec, a.deepspeed)
    except SpecError as exc:  # also a data file problem or a batch that does not split
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    log(f"final model: {final}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
