"""Packing vs dynamic padding for SFT batches: share of padding tokens, and training tokens/s.

Same tiny model, same mixed-length examples (lengths long-tailed, like Alpaca answers), same optimiser.
Dynamic padding: batches of 8 examples in shuffled order, each padded to its longest. Packing:
first-fit-decreasing rows of ≤ max_length tokens with per-example position ids (no cross-example
attention), 2 rows per batch. Tokens/s counts real (non-padding) tokens through forward + backward +
optimiser step. Target: padding ≤ 5 % with packing.

Usage: .venv/bin/python bench/packing.py [--examples 400] [--steps 12]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.05
WORDS = ["river", "bread", "lantern", "copper", "meadow", "signal", "harbour", "pepper", "quiet", "orbit",
         "garden", "ledger", "window", "thunder", "pebble", "violin", "marble", "cotton", "ember", "canyon"]


def log(msg: str) -> None:
    print(f"[packing] {msg}", file=sys.stderr, flush=True)


def make_rows(n: int, rng: random.Random) -> list[dict[str, str]]:
    def text(words: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(words))

    rows = []
    for _ in range(n):
        answer_words = min(300, int(rng.lognormvariate(3.6, 0.8)))  # median ~37 words, long tail
        rows.append({"instruction": text(rng.randint(5, 30)), "input": text(rng.randint(0, 20)) if rng.random() < 0.4
                     else "", "output": text(max(1, answer_words))})
    return rows


def train_rate(model_dir: Path, batches: list[dict[str, Any]], pad_id: int, vocab: int, steps: int) -> float:
    """Real tokens per second over `steps` optimiser steps (after one warm-up step)."""
    import torch
    from transformers import AutoModelForCausalLM

    from lion_cli.student.scripts.sft_data import training_forward_mode

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.resize_token_embeddings(vocab, mean_resizing=False)
    training_forward_mode(model)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens, elapsed = 0, 0.0
    for i, batch in enumerate(batches[: steps + 1]):
        t0 = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        dt = time.perf_counter() - t0
        if i == 0:
            continue  # warm-up
        elapsed += dt
        pads = int(((batch["input_ids"] == pad_id) & (batch["labels"] == -100)).sum())
        tokens += int(batch["input_ids"].numel()) - pads
    return tokens / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--max-length", type=int, default=512)
    a = ap.parse_args()

    from transformers import AutoTokenizer

    from lion_cli.demo.tiny_model import build_tiny_model
    from lion_cli.student.scripts.sft_data import SFTCollator, pack_examples, padding_share, tokenize_example

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "tiny", seed=0)
        tok = AutoTokenizer.from_pretrained(model_dir)
        tok.add_special_tokens({"pad_token": "<|pad|>"})
        pad = tok.pad_token_id
        examples = [tokenize_example(tok, r, "alpaca", a.max_length) for r in make_rows(a.examples, rng)]
        lengths = sorted(len(e["input_ids"]) for e in examples)
        log(f"{len(examples)} examples, tokens per example: median {lengths[len(lengths) // 2]}, "
            f"max {lengths[-1]}, total {sum(lengths)}")
        rng.shuffle(examples)
        dyn = [SFTCollator(pad, packed=False)(examples[i:i + 8]) for i in range(0, len(examples), 8)]
        packed_rows = pack_examples(examples, a.max_length)
        rng.shuffle(packed_rows)
        pk = [SFTCollator(pad, packed=True)(packed_rows[i:i + 2]) for i in range(0, len(packed_rows), 2)]
        share_dyn, share_pk = padding_share(dyn, pad), padding_share(pk, pad)
        log(f"padding share: dynamic padding {share_dyn:.1%} ({len(dyn)} batches of 8), "
            f"packing {share_pk:.1%} ({len(packed_rows)} rows of ≤ {a.max_length} → {len(pk)} batches of 2)")
        rate_dyn = train_rate(model_dir, dyn, pad, len(tok), a.steps)
        log(f"training, dynamic padding: {rate_dyn:.0f} real tokens/s")
        rate_pk = train_rate(model_dir, pk, pad, len(tok), a.steps)
        log(f"training, packing: {rate_pk:.0f} real tokens/s ({rate_pk / rate_dyn:.2f}× dynamic padding)")
    print(json.dumps({"bench": "packing", "value": round(share_pk, 4), "target": TARGET, "ok": share_pk <= TARGET}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
