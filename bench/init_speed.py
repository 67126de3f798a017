"""How long `lion init` takes on a 52,000-row Alpaca JSON, as a ratio of a baseline (target ≤ 2).

The seed file: 52,000 synthetic Alpaca records (instruction, input on a third of them, output), the size
and shape of Alpaca's alpaca_data.json (about 24 MB, indented as that file is), generated here.
lion: `init_project` (what `lion init` does after parsing its arguments: the seed file read and checked
record by record, duplicates dropped, lion.toml rendered and validated, the store created and migrated,
every seed written into iteration 0's Train and Cache Pools, the store moved into place).
Baseline: `json.load` of the same file and one `executemany` of (instruction, input, output) into a
one-table SQLite file, committed. CPU time of this process (other load on a shared machine does not
inflate it), in RUNS pairs, each pair one run of each side back to back, the order alternating from pair to
pair; the value is the median of the pairs' ratios. This machine's speed drifts by a third from one second
to the next (a VM beside others), and a ratio taken within a pair cancels what drifts slower than a pair;
the ratio of the two sides' medians, which pairs a fast baseline with a slow lion run, is printed beside it,
and so are wall times.
Also: the whole `lion init` as a real process once, wall and CPU, interpreter start included.

Run: .venv/bin/python bench/init_speed.py
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.0
ROWS = 52_000
RUNS = 9
TOPICS = ["rivers", "budgets", "poems", "compilers", "recipes", "elections", "glaciers", "markets", "operas",
          "vaccines", "bridges", "chess", "tides", "novels", "robots", "forests", "taxes", "comets"]
VERBS = ["Explain", "Summarise", "Write a short note about", "List three facts about", "Compare two kinds of",
         "Describe the history of", "Give advice on", "Plan a lesson on"]


def write_seed_file(path: Path) -> None:
    rng = random.Random(52)
    rows = []
    for i in range(ROWS):
        topic = rng.choice(TOPICS)
        context = f"Some context about {topic}, item {i}: " + " ".join(rng.choice(TOPICS) for _ in range(12))
        rows.append({"instruction": f"{rng.choice(VERBS)} {topic} (case {i}).",
                     "input": context if i % 3 == 0 else "",
                     "output": " ".join(rng.choice(TOPICS) for _ in range(rng.randint(10, 120)))})
    path.write_text(json.dumps(rows, indent=4), encoding="utf-8")


def timed(fn: object) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) that `fn()` took."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()  # type: ignore[operator]
    return time.process_time() - cpu, time.perf_counter() - wall


def baseline(seed: Path, folder: Path) -> None:
    rows = json.loads(seed.read_text(encoding="utf-8"))
    conn = sqlite3.connect(folder / "baseline.db")
    conn.execute("CREATE TABLE seeds (instruction TEXT, input TEXT, output TEXT)")
    conn.executemany("INSERT INTO seeds VALUES (?, ?, ?)", [(r["instruction"], r["input"], r["output"]) for r in rows])
    conn.commit()
    conn.close()


def lion_init(seed: Path, folder: Path) -> None:
    from lion_cli.cli.init import init_project

    result = init_project(folder / "project", seed)
    assert result["seeds"] == ROWS, result


def cli_once(seed: Path, folder: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lion_cli", "init", str(folder / "cli"), "--seed", str(seed), "--json"],
                   check=True, capture_output=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"cli_wall_s": round(time.perf_counter() - wall, 2), "cli_cpu_s": round(cpu, 2)}


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="lion-init-bench-"))
    try:
        seed = root / "alpaca_data.json"
        write_seed_file(seed)
        from lion_cli.cli.init import init_project  # imported once, as the lion process has it

        init_project(root / "warm", seed)  # the first call pays for lion's imports; a process pays them once
        lion, base = [], []
        for run in range(RUNS):
            folder = root / f"run{run}"
            folder.mkdir()
            sides = [(base, baseline), (lion, lion_init)]
            for times, side in sides if run % 2 == 0 else sides[::-1]:
                times.append(timed(lambda f=folder, side=side: side(seed, f)))  # type: ignore[misc]
            print(f"run {run}: lion {lion[-1][0]:.2f} s CPU ({lion[-1][1]:.2f} s wall), baseline "
                  f"{base[-1][0]:.2f} s CPU ({base[-1][1]:.2f} s wall)", file=sys.stderr)
        lion_cpu, base_cpu = statistics.median(c for c, _ in lion), statistics.median(c for c, _ in base)
        ratio = statistics.median(l_cpu / b_cpu for (l_cpu, _), (b_cpu, _) in zip(lion, base, strict=True))
        result = {"bench": "init_speed", "value": round(ratio, 3), "target": TARGET, "ok": ratio <= TARGET,
                  "ratio_of_medians": round(lion_cpu / base_cpu, 3),
                  "rows": ROWS, "seed_mb": round(seed.stat().st_size / 2**20, 1),
                  "lion_cpu_s": round(lion_cpu, 3), "baseline_cpu_s": round(base_cpu, 3),
                  "lion_wall_s": round(statistics.median(w for _, w in lion), 3),
                  "baseline_wall_s": round(statistics.median(w for _, w in base), 3), **cli_once(seed, root)}
        print(json.dumps(result))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
