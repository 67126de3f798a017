"""How close the API engine runs to a provider's limits, without 429 storms and without losing requests.

Two runs against `lion serve` in a subprocess (real HTTP on 127.0.0.1), each 2,000 teacher requests
with latency uniform 0.2–1.5 s and 2 % injected 5xx (1 % 500, 1 % 503):
  - RPM run: the server allows 1,200 requests per sliding minute; the engine is told rpm = 1,200.
  - TPM run: the server allows 120,000 tokens (prompt + completion) per sliding minute; the engine
    is told tpm = 120,000 (and an rpm it never reaches).
Measured in the steady state: successful calls (tokens, for TPM) completed per minute ÷ the limit,
over the window from 10 s after the first completion (the ramp-up: the bucket starts nearly empty)
to 3 s before the last one (the drain, when the queue is empty). Failed attempts count against the
limit at the server as they do at OpenAI, so with 2 % 5xx the ceiling of this ratio is about 0.98.
Also: lost requests (calls that never succeeded) and 429s the server sent because the limit was
overrun, as a share of requests.

    .venv/bin/python bench/api_throughput.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import httpx

from lion_cli.core.api import EndpointSpec
from lion_cli.llm.engine import LLMEngine
from lion_cli.llm.protocols import MemoryCallLog
from lion_cli.server.process import running_server

RAMP_S, DRAIN_S = 10.0, 3.0
TOPICS = ["rivers", "compilers", "bread", "tides", "chess", "glaciers", "markets", "orbits", "bees", "maps"]


def instruction(i: int) -> str:
    return f"Explain, for request number {i}, one surprising fact about {TOPICS[i % len(TOPICS)]} and why it matters."


async def drive(url: str, n: int, rpm: int, tpm: int) -> dict[str, Any]:
    spec = EndpointSpec(base_url=url, model="scripted", api_key_env="", rpm=rpm, tpm=tpm, max_concurrency=64,
                        max_tokens=150, timeout_s=30.0, max_retries=8, temperature=0.7)
    log = MemoryCallLog()
    done: list[tuple[float, int]] = []
    lost = 0
    async with LLMEngine({"teacher": spec}, call_log=log) as eng:
        async def one(i: int) -> None:
            nonlocal lost
            msgs = [{"role": "user", "content": f"### Instruction:\n{instruction(i)}\n\n### Response:"}]
            try:
                res = await eng.chat("teacher", msgs)
            except Exception as exc:
                lost += 1
                print(f"lost request {i}: {exc}", file=sys.stderr)
                return
            done.append((time.monotonic(), res.prompt_tokens + res.completion_tokens))

        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.monotonic() - t0
    done.sort()
    lo, hi = done[0][0] + RAMP_S, done[-1][0] - DRAIN_S
    steady = [tok for t, tok in done if lo <= t <= hi]
    minutes = (hi - lo) / 60
    return {"wall_s": wall, "lost": lost, "steady_s": hi - lo, "req_per_min": len(steady) / minutes,
            "tok_per_min": sum(steady) / minutes, "retries": sum(r.retries for r in log.records),
            "client_429": sum(r.rate_limited for r in log.records)}


def server_stats(url: str) -> dict[str, Any]:
    return dict(httpx.get(url.removesuffix("/v1") + "/stats", timeout=10).json())


def run(kind: str, n: int, limit: int) -> dict[str, Any]:
    print(f"{kind} run: {n} requests against a server limit of {limit}/min …", file=sys.stderr, flush=True)
    server_limits: dict[str, Any] = {"rpm": limit} if kind == "rpm" else {"tpm": limit}
    with running_server(backend="scripted", latency=(0.2, 1.5), rate_500=0.01, rate_503=0.01, fault_seed=11,
                        **server_limits) as url:
        res = asyncio.run(drive(url, n, rpm=limit if kind == "rpm" else 1_000_000,
                                tpm=limit if kind == "tpm" else 100_000_000))
        stats = server_stats(url)
    rate = res["req_per_min"] if kind == "rpm" else res["tok_per_min"]
    overrun = stats["rate_limited"]
    out = {"run": kind, "limit": limit, "requests": n, "ratio": round(rate / limit, 4),
           "req_per_min": round(res["req_per_min"], 1), "tok_per_min": round(res["tok_per_min"]),
           "lost": res["lost"], "limit_429s": overrun, "limit_429_share": round(overrun / n, 5),
           "injected_5xx": stats["faults_by_kind"].get("500", 0) + stats["faults_by_kind"].get("503", 0),
           "retries": res["retries"], "steady_window_s": round(res["steady_s"], 1), "wall_s": round(res["wall_s"], 1)}
    print(json.dumps(out), file=sys.stderr, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rpm", type=int, default=1200)
    ap.add_argument("--tpm", type=int, default=120_000)
    ap.add_argument("--only", choices=["rpm", "tpm"], default=None)
    args = ap.parse_args()
    runs = [run(k, args.requests, args.rpm if k == "rpm" else args.tpm) for k in ("rpm", "tpm")
            if args.only in (None, k)]
    worst = min(r["ratio"] for r in runs)
    ok = worst >= 0.97 and all(r["lost"] == 0 and r["limit_429_share"] <= 0.005 for r in runs)
    # Progress and the per-run details went to stderr; stdout is the one result line.
    print(json.dumps({"bench": "api_throughput", "value": worst, "target": 0.97, "ok": ok,
                      **{f"{r['run']}_{k}": r[k] for r in runs for k in ("ratio", "lost", "limit_429_share")}}))


if __name__ == "__main__":
    main()
