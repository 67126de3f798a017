"""Batch mode against online: the same scripted run (`lion run` subprocesses against `lion serve --scripted`,
a tiny student), once with every role online and once with the teacher, the referee and the generator in batch
mode. Reports the spend ratio batch/online (target 0.50 ± 0.01 at the default prices: batch = half the online
price) and the paid requests ratio (target 1.00: batch mode asks for exactly what the online run asks for), and
checks that both runs ended with the same pools and labels.
Run: .venv/bin/python bench/batch_mode.py [--seeds 16] [--new 8]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROLES = ("teacher", "referee", "generator")
# A local server is free by default (core/prices.py); gpt-3.5-turbo's list prices, the batch ones left "auto".
PRICED = [f"{role}.{key}={price}" for role in ROLES
          for key, price in (("price_input_per_1k", 0.0015), ("price_output_per_1k", 0.002))]
BATCH = [f"{role}.{key}" for role in ROLES for key in ("mode=batch", "batch_poll_s=0.05")]
COST_TARGET, COST_TOLERANCE, PAID_TARGET = 0.50, 0.01, 1.00


def run_once(root: Path, student: Path, extra: list[str], seeds: int, new: int) -> dict[str, Any]:
    from lion_cli.cli.demo import scripted_project
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", batch="delay_s=0.05") as url:
        project = scripted_project(root, url, student, iterations=1, new=new, seeds=seeds, extra=[*PRICED, *extra])
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "lion_cli", "run", str(project)], capture_output=True,
                              text=True, check=False)
        wall = time.monotonic() - t0
    if done.returncode != 0:
        raise SystemExit(f"lion run failed:\n{done.stderr[-3000:]}")
    with sqlite3.connect(project / "lion.db") as conn:
        # Paid: a request answered by the server (not from the request cache); a probe has no cache key.
        cost, paid = conn.execute("SELECT SUM(cost_usd), SUM(ok = 1 AND cached = 0 AND cache_key != '') FROM api_calls"
                                  ).fetchone()
        labels = sorted(conn.execute("SELECT l.iteration, i.text, l.label FROM labels l"
                                     " JOIN instructions i ON i.id = l.instruction_id"))
        pools = sorted(conn.execute("SELECT p.iteration, p.pool, i.text FROM pool_members p"
                                    " JOIN instructions i ON i.id = p.instruction_id"))
        batches = conn.execute("SELECT COUNT(*) FROM provider_batches").fetchone()[0]
    return {"cost": float(cost or 0.0), "paid": int(paid or 0), "labels": labels, "pools": pools,
            "batches": int(batches), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--new", type=int, default=8)
    args = parser.parse_args()
    from lion_cli.demo.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        student = build_tiny_model(root / "student")
        (root / "online").mkdir()
        (root / "batch").mkdir()
        online = run_once(root / "online", student, [], args.seeds, args.new)
        batch = run_once(root / "batch", student, BATCH, args.seeds, args.new)
    cost_ratio = batch["cost"] / online["cost"]
    paid_ratio = batch["paid"] / online["paid"]
    same = batch["labels"] == online["labels"] and batch["pools"] == online["pools"]
    ok = abs(cost_ratio - COST_TARGET) <= COST_TOLERANCE and paid_ratio == PAID_TARGET and same
    print(f"online: ${online['cost']:.6f}, {online['paid']} paid requests, {online['wall_s']:.1f} s", file=sys.stderr)
    print(f"batch:  ${batch['cost']:.6f}, {batch['paid']} paid requests in {batch['batches']} batches, "
          f"{batch['wall_s']:.1f} s; same pools and labels: {same}", file=sys.stderr)
    print(json.dumps({"bench": "batch_mode", "value": round(cost_ratio, 4), "target": COST_TARGET,
                      "tolerance": COST_TOLERANCE, "ok": ok, "paid_ratio": round(paid_ratio, 4),
                      "paid_target": PAID_TARGET, "same_pools_and_labels": same, "online_paid": online["paid"],
                      "batch_paid": batch["paid"], "batches": batch["batches"], "online_usd": round(online["cost"], 6),
                      "batch_usd": round(batch["cost"], 6)}))


if __name__ == "__main__":
    main()
