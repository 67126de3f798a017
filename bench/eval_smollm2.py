"""SmolLM2-135M-Instruct evaluated for real: a BBH subset and an AGIEval subset, both modes.

Runs the real command (`lion eval bbh|agieval --model … --mode both --limit N --json`) as a
subprocess, the way a user would, and reports the wall time of the whole --limit run against a
budget of a few minutes on a 2-core CPU. The accuracies (and chance level, the baseline a
135M model is expected to sit near) go to stderr and to bench/RESULTS.md.

    .venv/bin/python bench/eval_smollm2.py [--limit 20] [--no-results]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SUBSETS = {
    "bbh": ["boolean_expressions", "sports_understanding", "date_understanding"],
    "agieval": ["aqua-rat", "sat-math", "logiqa-en"],
}
TARGET_S = 600.0  # both benchmarks, both modes, --limit 20 × 3 tasks each: "a few minutes" on 2 cores


def chance(benchmark: str, task: str) -> float:
    from lion_cli.eval.bench import load_task_items

    items = load_task_items(benchmark, [task], limit=None, data_dir=DATA)[task]
    return sum(1 / len(i.letters) for i in items) / len(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--only", choices=sorted(SUBSETS), help="run one benchmark only")
    ap.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from lion_cli.demo.smollm2 import smollm2_hf_dir

    model = smollm2_hf_dir()
    lion = str(Path(sys.executable).with_name("lion"))
    rows, times = [], {}
    subsets = {args.only: SUBSETS[args.only]} if args.only else SUBSETS
    for bench, tasks in subsets.items():
        cmd = [lion, "eval", bench, "--model", str(model), "--tasks", ",".join(tasks), "--limit", str(args.limit),
               "--protocol", "lion", "--mode", "both", "--data-dir", str(DATA), "--prompt-format", "chat",
               "--batch-size", "8",
               "--max-new-tokens", str(args.max_new_tokens), "--json"]
        print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd="/tmp", stdout=subprocess.PIPE, text=True, check=True)
        times[bench] = time.monotonic() - t0
        for r in json.loads(proc.stdout)["results"]:
            r["chance"] = chance(bench, r["task"])
            rows.append(r)
        print(f"{bench}: {times[bench]:.1f} s", file=sys.stderr, flush=True)

    lines = [f"SmolLM2-135M-Instruct, --limit {args.limit}, chat template, max_new_tokens {args.max_new_tokens}, "
             f"CPU (2 cores, shared). Wall time: " + ", ".join(f"{b} {t:.0f} s" for b, t in times.items()) + ".",
             "", "| benchmark | task | n | generate % | loglik % | chance % | paper Lion-7B % |",
             "|---|---|---|---|---|---|---|"]
    by = {(r["benchmark"], r["task"], r["mode"]): r for r in rows}
    for bench, tasks in subsets.items():
        for t in tasks:
            g, ll = by[(bench, t, "generate")], by[(bench, t, "loglik")]
            paper = g["paper"]["Lion-7B"] if g["paper"] else "-"
            lines.append(f"| {bench} | {t} | {g['n']} | {100 * g['accuracy']:.1f} | {100 * ll['accuracy']:.1f} | "
                         f"{100 * g['chance']:.1f} | {paper} |")
    table = "\n".join(lines)
    print(table, file=sys.stderr)
    total = sum(times.values())
    if not args.no_results:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n## eval_smollm2 ({time.strftime('%Y-%m-%d')})\n\n{table}\n\n"
                     f"bench line: total {total:.0f} s against a {TARGET_S:.0f} s budget.\n")
    print(json.dumps({"bench": "eval_smollm2", "value": round(total, 1), "target": TARGET_S,
                      "ok": total <= TARGET_S}))


if __name__ == "__main__":
    main()
