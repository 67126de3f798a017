"""Student generation throughput: new tokens per second, batched vs one prompt at a time.

Same model (the tiny Llama of lion_cli/demo/tiny_model.py, fp32, CPU), same prompts, same settings
(the student's defaults in lion.toml, which are the paper's: sampling at temperature 0.7, no top-p
or top-k; 48 new tokens at most here):
  - baseline: the original Lion code's way, `model.generate(do_sample=True)` on one prompt at a time;
  - lion: student/batch_decode.generate_batch over batches of `--batch-size` prompts sorted by
    length (left padding, per-row seeded sampling), as the generation entry script runs it.
Tokens counted are the new tokens each answer really got (an early EOS counts what was produced).
The ratio is lion tokens/s ÷ baseline tokens/s. Target ≥ 8.

    .venv/bin/python bench/generate_throughput.py [--prompts 64] [--batch-size 32] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

TARGET = 8.0
TOPICS = ["basil", "a budget", "the night train", "sleep", "a log file", "bread dough", "the moon", "a meeting",
          "tax forms", "a bicycle", "tomatoes", "a queue", "the museum", "interest rates", "a test suite", "rain"]
ASKS = ["Give {n} tips about {t}.", "Write a short note to Sofia about {t}.", "How do I check {t}?",
        "Explain in {n} sentences why {t} matters, with one example from daily life and one from work."]


def prompts(n: int) -> list[str]:
    """Alpaca-layout prompts of mixed lengths (as a Train Pool is)."""
    out = []
    for i in range(n):
        text = ASKS[i % len(ASKS)].format(n=i % 5 + 2, t=TOPICS[i % len(TOPICS)])
        out.append(f"### Instruction:\n{text}\n\n### Response:\n")
    return out


def log(msg: str) -> None:
    print(f"[generate_throughput] {msg}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    # 1 by default: on a shared box, torch's intra-op threads oversubscribe the cores and both sides
    # slow down by an order of magnitude, which measures the neighbours rather than the batching.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from lion_cli.demo.tiny_model import build_tiny_model
    from lion_cli.student.scripts.batch_decode import Sampling, derive_seed, generate_batch, load_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_model(Path(tmp) / "tiny", seed=0)
        model, tok = load_model(str(folder), "fp32", "cpu")
    texts = prompts(args.prompts)
    ids = [tok(t).input_ids for t in texts]
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.7, top_p=1.0)
    log(f"tiny model, {args.prompts} prompts of {min(map(len, ids))}-{max(map(len, ids))} tokens, "
        f"≤ {args.max_new_tokens} new tokens each, torch threads {torch.get_num_threads()}")

    def baseline() -> tuple[int, float]:
        torch.manual_seed(0)
        t0, new = time.perf_counter(), 0
        for row in ids:
            inp = torch.tensor([row])
            out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), do_sample=True,
                                 temperature=0.7, top_p=1.0, top_k=0, max_new_tokens=args.max_new_tokens,
                                 pad_token_id=tok.eos_token_id)
            new += out.shape[1] - inp.shape[1]
        return new, time.perf_counter() - t0

    def batched() -> tuple[int, float]:
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        t0, new = time.perf_counter(), 0
        for start in range(0, len(order), args.batch_size):
            chunk = order[start:start + args.batch_size]
            outs = generate_batch(model, tok, [ids[i] for i in chunk], [derive_seed(0, str(i)) for i in chunk],
                                  sampling)
            new += sum(o.completion_tokens for o in outs)
        return new, time.perf_counter() - t0

    # Warm up both paths (first calls pay one-off allocations), then time them.
    generate_batch(model, tok, ids[:2], [1, 2], Sampling(4, 0.7))
    model.generate(input_ids=torch.tensor([ids[0]]), do_sample=True, max_new_tokens=4, pad_token_id=tok.eos_token_id)
    base_tokens, base_s = baseline()
    log(f"one at a time: {base_tokens} new tokens in {base_s:.2f} s = {base_tokens / base_s:.0f} tok/s")
    lion_tokens, lion_s = batched()
    log(f"batched ({args.batch_size}): {lion_tokens} new tokens in {lion_s:.2f} s = {lion_tokens / lion_s:.0f} tok/s")
    ratio = (lion_tokens / lion_s) / (base_tokens / base_s)
    print(json.dumps({"bench": "generate_throughput", "value": round(ratio, 2), "target": TARGET,
                      "ok": ratio >= TARGET, "batched_tok_s": round(lion_tokens / lion_s, 1),
                      "one_at_a_time_tok_s": round(base_tokens / base_s, 1), "prompts": args.prompts,
                      "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
                      "threads": args.threads}))


if __name__ == "__main__":
    main()
