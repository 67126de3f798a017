"""`lion plan` for the paper's configuration, beside the paper's figures (~450K requests, ~$900).

A project like the paper's: 52,002 seed instructions (the size of Alpaca's; generated here, as
alpaca_data.json is not in shared/data), lion.toml's defaults (3 iterations, 6,000 new each, both
orders, gpt-3.5-turbo for every role) with the 2023 gpt-3.5-turbo prices the paper paid ($0.0015 /
$0.002 per 1K tokens). Nothing has run, so every token count is the plan's stated assumption.
The ratio is planned requests ÷ 450,000 (target within 10 %).

Run: .venv/bin/python bench/plan_paper.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from init_speed import write_seed_file  # bench/init_speed.py: 52,000 Alpaca-shaped records

PAPER_REQUESTS, PAPER_USD = 450_000, 900.0
PRICES = [f"{role}.{key}={price}" for role in ("teacher", "referee", "generator")
          for key, price in (("price_input_per_1k", 0.0015), ("price_output_per_1k", 0.002))]


def lion(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "lion_cli", *args], capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds.json"
        write_seed_file(seeds)
        rows = json.loads(seeds.read_text())
        rows += [{"instruction": "Name two extra seeds.", "input": "", "output": "x"},
                 {"instruction": "Name one more extra seed.", "input": "", "output": "y"}]
        seeds.write_text(json.dumps(rows))
        project = Path(tmp) / "paper"
        lion("init", str(project), "--seed", str(seeds), *[x for s in PRICES for x in ("--set", s)])
        print(lion("plan", str(project)))
        plan = json.loads(lion("plan", str(project), "--json"))
    total, loop = plan["total"], plan["loop_total"]
    print(json.dumps({"bench": "plan_paper", "value": round(total["requests"] / PAPER_REQUESTS, 3),
                      "target": "0.90-1.10", "ok": abs(total["requests"] / PAPER_REQUESTS - 1) <= 0.10,
                      "requests": total["requests"], "requests_without_final": loop["requests"],
                      "online_usd": round(total["online_usd"], 2), "batch_usd": round(total["batch_usd"], 2),
                      "paper_requests": PAPER_REQUESTS, "paper_usd": PAPER_USD,
                      "by_role": {r: x["requests"] for r, x in plan["by_role"].items()}}))


if __name__ == "__main__":
    main()
