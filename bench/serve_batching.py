"""Model-backed server throughput: completed requests per second, batched vs one at a time.

Two real `lion serve --model PATH` subprocesses in turn, the same model and the same requests:
  - baseline: `--max-batch 1`, the server decodes one request at a time (what a plain HF
    `generate` per request gives);
  - lion: `--max-batch 16` (lion serve's default), concurrent requests are decoded together
    (serve_backend.HFBackend).
A client sends all `--requests` chat requests at once (sampling at temperature 0.7 with a seed each,
at most `--max-tokens` new tokens) and times from the first send to the last reply. Because every
request carries a seed and the sampler is per row, both servers must return the same answers: the
bench checks that too (`same_answers`). Ratio = requests/s batched ÷ requests/s one at a time.
Target ≥ 3 on CPU.

    .venv/bin/python bench/serve_batching.py [--model smollm2|tiny|PATH] [--requests 16] [--max-tokens 24]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from lion_cli.server.process import running_server

TARGET = 3.0
QUESTIONS = ["Give one tip for better sleep.", "What is the capital of France?", "Name a colour of the sky.",
             "Write a haiku about rain.", "What is 2 plus 2?", "Say hello in French.", "Why do leaves fall?",
             "Suggest a name for a cat.", "What is a noun?", "How do I boil an egg?", "Describe the moon.",
             "What is the largest ocean?", "List two fruits.", "What does a baker do?", "Why is the sea salty?",
             "How many legs does a spider have?"]


def log(msg: str) -> None:
    print(f"[serve_batching] {msg}", file=sys.stderr, flush=True)


def bodies(n: int, max_tokens: int) -> list[dict[str, Any]]:
    return [{"model": "student", "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
             "temperature": 0.7, "top_p": 0.95, "max_tokens": max_tokens, "seed": 100 + i} for i in range(n)]


async def send_all(url: str, requests: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    async with httpx.AsyncClient(timeout=3600, limits=httpx.Limits(max_connections=len(requests))) as client:
        await client.post(f"{url}/chat/completions", json={**requests[0], "max_tokens": 2})  # warm-up
        t0 = time.perf_counter()
        replies = await asyncio.gather(*(client.post(f"{url}/chat/completions", json=b) for b in requests))
        elapsed = time.perf_counter() - t0
    for reply in replies:
        reply.raise_for_status()
    return elapsed, [r.json() for r in replies]


def measure(model: str, max_batch: int, requests: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    with running_server("model", model=model, max_batch=max_batch, batch_window_ms=50) as url:
        elapsed, replies = asyncio.run(send_all(url, requests))
    tokens = sum(r["usage"]["completion_tokens"] for r in replies)
    log(f"max_batch {max_batch}: {len(replies)} requests ({tokens} new tokens) in {elapsed:.1f} s "
        f"= {len(replies) / elapsed:.2f} req/s")
    return elapsed, replies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2", help="smollm2 | tiny | an HF model folder")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=24)
    # Both servers get the same torch thread count; 1 keeps a shared box from oversubscribing.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by the server subprocesses

    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "smollm2":
            from lion_cli.demo.smollm2 import smollm2_hf_dir

            model = str(smollm2_hf_dir())
        elif args.model == "tiny":
            from lion_cli.demo.tiny_model import build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny"))
        else:
            model = args.model
        log(f"model {model}, {args.requests} concurrent requests, ≤ {args.max_tokens} new tokens, "
            f"{args.threads} torch thread(s)")
        requests = bodies(args.requests, args.max_tokens)
        base_s, base = measure(model, 1, requests)
        lion_s, lion = measure(model, args.max_batch, requests)

    same = [b["choices"][0]["message"] for b in base] == [b["choices"][0]["message"] for b in lion]
    ratio = base_s / lion_s
    print(json.dumps({"bench": "serve_batching", "value": round(ratio, 2), "target": TARGET, "ok": ratio >= TARGET,
                      "batched_req_s": round(args.requests / lion_s, 3),
                      "one_at_a_time_req_s": round(args.requests / base_s, 3), "same_answers": same,
                      "model": Path(model).name, "requests": args.requests, "max_batch": args.max_batch,
                      "max_tokens": args.max_tokens,
                      "threads": args.threads}))


if __name__ == "__main__":
    main()
