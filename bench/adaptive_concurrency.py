"""How close the engine's adaptive concurrency runs a server to its capacity, and whether it gives up
on requests the server still answers (and a paid API bills).

Against `lion serve --scripted --slots N --service-time T` in a subprocess (real HTTP on 127.0.0.1),
a server that works on N requests at once, T seconds each, and queues the rest in arrival order as
llama.cpp does: its capacity is N / T requests per second. lion's default endpoint settings
(max_concurrency 32, 8 retries, adaptive_concurrency on) with timeout_s 5 (short, to make the point
quickly) and rpm/tpm limits it never reaches (the point is concurrency, not rate limits):
  - one slot, T = 0.2 s, 300 requests (about a minute at capacity);
  - sixteen slots, T = 0.5 s, 1,600 requests (about 50 s at capacity).
Measured: requests completed per minute ÷ capacity in the steady state (from RAMP_S after the first
completion to DRAIN_S before the last; the whole run's ratio is printed too) and requests given up on
after they were sent (timeouts, dropped connections: possibly billed). Then, once, the old behaviour
against the one-slot server: adaptive_concurrency = false (always 32 in flight), 100 requests, stopped
after OLD_CAP_S: what completed, what was given up on, and what the server answered to clients that
had already left.

    .venv/bin/python bench/adaptive_concurrency.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import httpx

from lion_cli.core.api import EndpointSpec
from lion_cli.llm.engine import LLMEngine
from lion_cli.llm.protocols import MemoryCallLog
from lion_cli.server.process import running_server

RAMP_S, DRAIN_S = 5.0, 2.0
OLD_CAP_S = 90.0
TIMEOUT_S = 5.0
TOPICS = ["rivers", "compilers", "bread", "tides", "chess", "glaciers", "markets", "orbits", "bees", "maps"]


def messages(i: int) -> list[dict[str, str]]:
    text = f"Explain, for request number {i}, one surprising fact about {TOPICS[i % len(TOPICS)]}."
    return [{"role": "user", "content": f"### Instruction:\n{text}\n\n### Response:"}]


async def drive(url: str, n: int, adaptive: bool, cap_s: float | None) -> dict[str, Any]:
    spec = EndpointSpec(base_url=url, model="scripted", api_key_env="", rpm=1_000_000, tpm=1_000_000_000,
                        timeout_s=TIMEOUT_S, adaptive_concurrency=adaptive)
    log = MemoryCallLog()
    done: list[float] = []
    lost = 0
    async with LLMEngine({"teacher": spec}, call_log=log) as eng:
        async def one(i: int) -> None:
            nonlocal lost
            try:
                await eng.chat("teacher", messages(i))
            except Exception as exc:
                lost += 1
                print(f"lost request {i}: {exc}", file=sys.stderr)
                return
            done.append(time.monotonic())

        t0 = time.monotonic()
        work = asyncio.gather(*(one(i) for i in range(n)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(work, cap_s)
        wall = time.monotonic() - t0
        state = eng.state("teacher")
    return {"t0": t0, "wall_s": wall, "done": sorted(done), "lost": lost, "state": state,
            "given_up": sum(r.possibly_billed for r in log.records),
            "retries": sum(1 for r in log.records if r.attempt > 1)}


def ratios(res: dict[str, Any], capacity: float) -> tuple[float, float]:
    """(steady-state ratio, whole-run ratio) of completions per second to the server's capacity."""
    done = res["done"]
    whole = len(done) / (res["wall_s"] * capacity)
    if len(done) < 2:
        return 0.0, whole
    lo, hi = done[0] + RAMP_S, done[-1] - DRAIN_S
    steady = sum(1 for t in done if lo <= t <= hi) / ((hi - lo) * capacity) if hi > lo else 0.0
    return steady, whole


def run(label: str, slots: int, service_s: float, n: int, adaptive: bool = True,
        cap_s: float | None = None) -> dict[str, Any]:
    print(f"{label}: {n} requests, {slots} slot(s) × {service_s:g} s, adaptive={adaptive} …", file=sys.stderr,
          flush=True)
    with running_server(backend="scripted", slots=slots, service_time=service_s) as url:
        res = asyncio.run(drive(url, n, adaptive, cap_s))
        server = dict(httpx.get(url.removesuffix("/v1") + "/stats", timeout=10).json())
    capacity = slots / service_s
    steady, whole = ratios(res, capacity)
    state = res["state"]
    out = {"run": label, "slots": slots, "service_time_s": service_s, "requests": n, "adaptive": adaptive,
           "completed": len(res["done"]), "ratio": round(steady, 4), "whole_run_ratio": round(whole, 4),
           "req_per_min": round(len(res["done"]) / res["wall_s"] * 60, 1), "capacity_per_min": capacity * 60,
           "given_up": res["given_up"], "lost": res["lost"], "retries": res["retries"],
           "limit_found": state.limit, "latency_s": None if state.latency_s is None else round(state.latency_s, 3),
           "server_received": server["received"], "server_served": server["served"],
           "answered_after_client_left": server["answered_after_client_left"],
           "server_most_waiting": server["slots"]["most_waiting"], "wall_s": round(res["wall_s"], 1)}
    print(json.dumps(out), file=sys.stderr, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-old", action="store_true", help="Leave out the fixed-32 run.")
    args = ap.parse_args()
    single = run("one slot", 1, 0.2, 300)
    sixteen = run("sixteen slots", 16, 0.5, 1600)
    if not args.skip_old:
        run("one slot, fixed 32 (adaptive_concurrency = false)", 1, 0.2, 100, adaptive=False, cap_s=OLD_CAP_S)
    given_up = single["given_up"] + sixteen["given_up"]
    worst = min(single["ratio"], sixteen["ratio"])
    ok = worst >= 0.95 and given_up == 0 and single["lost"] == sixteen["lost"] == 0
    # Progress and the per-run details went to stderr; stdout is the one result line.
    print(json.dumps({"bench": "adaptive_concurrency", "value": worst, "target": 0.95, "ok": ok,
                      "single_slot_ratio": single["ratio"], "sixteen_slot_ratio": sixteen["ratio"],
                      "given_up": given_up}))


if __name__ == "__main__":
    main()
