"""White-box distillation objectives after equal steps: the token-level KL(teacher ‖ student) on held-out
rows, and ROUGE-L of the student's greedy answers against the teacher's greedy answers, for sft, kl, rkl,
skew_kl and skew_rkl (α = 0.1), all through lion's training script in-process.

Set-up (the one tests/test_kd_train.py uses): lion's tiny corpus as instruction rows, its last 20 held
out. The teacher is a 2-layer × 128 tiny Llama fine-tuned on every row; the student's base a 1-layer × 64
one fine-tuned briefly on the training rows (DistiLLM's students start from SFT). From that base, each
objective trains the same number of steps with the same seed, batch and learning rate on the training
rows' answers. Target: skew_kl's held-out KL ≤ 0.9 × sft's.

Usage: OMP_NUM_THREADS=2 .venv/bin/python bench/kd_objectives.py [--steps 20] [--base-steps 40] [--teacher-steps 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.9
OBJECTIVES = ("sft", "kl", "rkl", "skew_kl", "skew_rkl")
HELD_OUT = 20
MAX_NEW_TOKENS = 48


def log(msg: str) -> None:
    print(f"[kd_objectives] {msg}", file=sys.stderr, flush=True)


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def train(model: Path, data: Path, out: Path, steps: int, lr: float, **kw: Any) -> Path:
    from lion_cli.student.scripts.train import run
    from lion_cli.student.specs import TrainSpec

    spec = TrainSpec(model_path=str(model), data_path=str(data), output_dir=str(out), max_steps=steps, lr=lr,
                     lr_scheduler="constant", warmup_ratio=0.0, global_batch_size=8, per_device_batch_size=8,
                     max_length=128, precision="fp32", save_steps=10_000, seed=0, **kw)
    return run(spec, None)


def greedy_answers(model_dir: Path, rows: list[dict[str, str]]) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lion_cli.student.scripts.prompt import prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model: Any = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    answers = []
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([prompt_ids(tokenizer, row, "alpaca")])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=MAX_NEW_TOKENS, eos_token_id=tokenizer.eos_token_id,
                                 pad_token_id=tokenizer.pad_token_id)
            answers.append(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    return answers


def mean_rouge_l(references: list[str], predictions: list[str]) -> float:
    from lion_cli.core.novelty import rouge_l, tokenize

    pairs = zip(references, predictions, strict=True)
    return sum(rouge_l(tokenize(r), tokenize(p)) for r, p in pairs) / len(references)


def setup(root: Path, a: argparse.Namespace) -> tuple[Path, Path, Path, list[dict[str, str]]]:
    from lion_cli.demo.tiny_model import CORPUS_PATH, build_tiny_model
    from lion_cli.student.scripts.distill_eval import instruction_rows

    rows = instruction_rows(CORPUS_PATH.read_text(encoding="utf-8"))
    held = rows[-HELD_OUT:]
    data = write_rows(root / "train.jsonl", rows[:-HELD_OUT])
    teacher0 = build_tiny_model(root / "teacher0", seed=1, hidden=128, layers=2)
    teacher = train(teacher0, write_rows(root / "all.jsonl", rows), root / "teacher", a.teacher_steps, 3e-3)
    student0 = build_tiny_model(root / "student0", seed=2, hidden=64, layers=1, heads=2)
    base = train(student0, data, root / "base", a.base_steps, 1e-2)
    return teacher, base, data, held


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--base-steps", type=int, default=40)
    p.add_argument("--teacher-steps", type=int, default=60)
    p.add_argument("--lr", type=float, default=3e-3)
    a = p.parse_args()
    from lion_cli.student.scripts.distill_eval import held_out_kl

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="kd_objectives_") as tmp:
        root = Path(tmp)
        teacher, base, data, held = setup(root, a)
        teacher_answers = greedy_answers(teacher, held)
        for objective in OBJECTIVES:
            t0 = time.perf_counter()
            kw = {} if objective == "sft" else {"objective": objective, "teacher_model": str(teacher)}
            final = train(base, data, root / objective, a.steps, a.lr, **kw)
            results[objective] = {"kl": held_out_kl(teacher, final, held),
                                  "rouge_l": mean_rouge_l(teacher_answers, greedy_answers(final, held)),
                                  "seconds": time.perf_counter() - t0}
            log(f"{objective}: {results[objective]}")
        base_kl = held_out_kl(teacher, base, held)
    print("| objective | held-out KL(teacher ‖ student) | ROUGE-L vs teacher's greedy answers | train s |")
    print("|---|---|---|---|")
    print(f"| (base, before) | {base_kl:.3f} | | |")
    for objective, r in results.items():
        print(f"| {objective} | {r['kl']:.3f} | {r['rouge_l']:.3f} | {r['seconds']:.0f} |")
    ratio = results["skew_kl"]["kl"] / results["sft"]["kl"]
    line = {"bench": "kd_objectives", "value": round(ratio, 3), "target": TARGET, "ok": ratio <= TARGET,
            "steps": a.steps, "base_kl": round(base_kl, 4),
            **{f"{o}_kl": round(r["kl"], 4) for o, r in results.items()},
            **{f"{o}_rouge_l": round(r["rouge_l"], 4) for o, r in results.items()}}
    print(json.dumps(line))
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
