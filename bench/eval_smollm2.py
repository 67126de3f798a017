"""SmolLM2-135M-Instruct evaluated for real: a BBH subset and an AGIEval subset, both modes.

Runs the real command (`lion eval bbh|agieval --model … --mode both --limit N --json`) as a
subprocess, the way a user would, and beside it, per benchmark, the same model work done directly
with transformers (bench/hf_direct_eval.py: the same prompts and options, one model load, no store
or jobs). The value is lion's wall time ÷ the direct one's, both measured here in one run: what
lion's eval costs over the bare model work (target ≤ 1.5). The accuracies (and chance level, which
a 135M model is expected to sit near) go to stderr and to bench/RESULTS.md.

    .venv/bin/python bench/eval_smollm2.py [--limit 5] [--only bbh|agieval] [--no-results]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SUBSETS = {
    "bbh": ["boolean_expressions", "sports_understanding", "date_understanding"],
    "agieval": ["aqua-rat", "sat-math", "logiqa-en"],
}
TARGET = 1.5  # lion's eval over the same model work done directly (two job processes, the store, reading)


def chance(benchmark: str, task: str) -> float:
    from lion_cli.eval.bench import load_task_items

    items = load_task_items(benchmark, [task], limit=None, data_dir=DATA)[task]
    return sum(1 / len(i.letters) for i in items) / len(items)


def run_direct(model: Path, benchmark: str, tasks: list[str], limit: int, max_new_tokens: int) -> float:
    """Wall time of bench/hf_direct_eval.py on this benchmark's prompts (model load included, as for lion)."""
    from lion_cli.eval.bench import load_task_items

    items = load_task_items(benchmark, tasks, limit=limit, data_dir=DATA)
    job = {"model": str(model), "batch_size": 8, "max_new_tokens": max_new_tokens,
           "generate": [it.prompt("generate") for its in items.values() for it in its],
           "loglik": [[it.prompt("loglik"), list(it.options)] for its in items.values() for it in its
                      if it.is_choice]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(job, fh)
    t0 = time.monotonic()
    subprocess.run([sys.executable, str(ROOT / "bench" / "hf_direct_eval.py"), fh.name], check=True,
                   stdout=subprocess.DEVNULL)
    took = time.monotonic() - t0
    Path(fh.name).unlink()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--only", choices=sorted(SUBSETS), help="run one benchmark only")
    ap.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from lion_cli.demo.smollm2 import smollm2_hf_dir

    model = smollm2_hf_dir()
    lion = str(Path(sys.executable).with_name("lion"))
    rows, times, direct = [], {}, {}
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
        direct[bench] = run_direct(model, bench, tasks, args.limit, args.max_new_tokens)
        print(f"{bench}: lion {times[bench]:.1f} s, direct {direct[bench]:.1f} s", file=sys.stderr, flush=True)

    lines = [f"SmolLM2-135M-Instruct, --limit {args.limit}, chat template, max_new_tokens {args.max_new_tokens}, "
             f"CPU (2 cores, shared). Wall time lion / direct: "
             + ", ".join(f"{b} {t:.0f} s / {direct[b]:.0f} s" for b, t in times.items()) + ".",
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
    ratio = sum(times.values()) / sum(direct.values())
    line = json.dumps({"bench": "eval_smollm2", "value": round(ratio, 3), "target": TARGET, "ok": ratio <= TARGET,
                       "lion_s": round(sum(times.values()), 1), "direct_s": round(sum(direct.values()), 1)})
    if not args.no_results:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n## eval_smollm2 ({time.strftime('%Y-%m-%d')})\n\n{table}\n\n`{line}`\n")
    print(line)

if __name__ == "__main__":
    main()
