"""DPO epoch time with the reference log-probabilities precomputed (read from the stored file) vs the
reference model run at every step, same pairs, same tiny model, lion's own DPO job code in-process.

Each run is scripts/dpo.run on a DPOSpec (one epoch, fp32 on CPU); the epoch time is the Trainer's
train_runtime from the job's done line, so loading and saving the model are left out. The precomputed
side's one-off reference pass (once per pair set, reused by every epoch and resume) is reported apart
and not in its epoch time. A first warm-up run is left out; then the runs alternate between the two
sides, in alternating order; the medians are compared. Run with OMP_NUM_THREADS=1 on a shared box.
Target: on-the-fly / precomputed ≥ 1.4.

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/dpo_precompute.py [--pairs 32] [--repeats 3] [--hidden 256] [--layers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.4
WORDS = ["river", "bread", "lantern", "copper", "meadow", "signal", "harbour", "pepper", "quiet", "orbit",
         "garden", "ledger", "window", "thunder", "pebble", "violin", "marble", "cotton", "ember", "canyon"]


def log(msg: str) -> None:
    print(f"[dpo_precompute] {msg}", file=sys.stderr, flush=True)


def write_pairs(path: Path, n: int) -> Path:
    import random

    rng = random.Random(0)

    def text(words: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(words))

    rows = [{"prompt": text(rng.randint(6, 20)), "chosen": text(rng.randint(15, 50)),
             "rejected": text(rng.randint(15, 50))} for _ in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def one_epoch(model: Path, pairs: Path, out: Path, precompute: bool) -> tuple[float, float | None]:
    """(epoch seconds, reference pass seconds or None) of one DPO job run in this process."""
    from lion_cli.student.scripts import dpo
    from lion_cli.student.specs import DPOSpec

    spec = DPOSpec(model_path=str(model), data_path=str(pairs), output_dir=str(out), precompute_ref=precompute,
                   epochs=1.0, lr=1e-5, global_batch_size=8, per_device_batch_size=4, max_length=128,
                   precision="fp32", save_steps=10_000)
    t0 = time.perf_counter()
    dpo.run(spec, None)
    wall = time.perf_counter() - t0
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    done = next(m for m in lines if m.get("event") == "done")
    reference = wall - float(done["runtime_s"]) if precompute else None  # load + reference pass + save
    return float(done["runtime_s"]), reference


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    a = p.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from lion_cli.demo.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_model(root / "model", seed=0, hidden=a.hidden, layers=a.layers)
        pairs = write_pairs(root / "pairs.jsonl", a.pairs)
        times: dict[bool, list[float]] = {True: [], False: []}
        overhead: list[float] = []
        one_epoch(model, pairs, root / "warm-up", True)  # the process's first run pays one-off costs: left out
        for r in range(a.repeats):
            for precompute in ((True, False) if r % 2 == 0 else (False, True)):
                epoch, ref = one_epoch(model, pairs, root / f"run-{r}-{precompute}", precompute)
                times[precompute].append(epoch)
                if ref is not None:
                    overhead.append(ref)
                log(f"repeat {r}: {'precomputed' if precompute else 'on the fly'} epoch {epoch:.2f} s")
    pre, fly = statistics.median(times[True]), statistics.median(times[False])
    ratio = fly / pre
    print(f"DPO epoch, {a.pairs} pairs: precomputed reference {pre:.2f} s, on the fly {fly:.2f} s; "
          f"ratio {ratio:.2f} (target ≥ {TARGET})")
    print(json.dumps({"bench": "dpo_precompute", "value": round(ratio, 3), "target": TARGET, "ok": ratio >= TARGET,
                      "pairs": a.pairs, "hidden": a.hidden, "layers": a.layers, "precomputed_epoch_s": round(pre, 3),
                      "on_the_fly_epoch_s": round(fly, 3),
                      "precompute_job_overhead_s": round(statistics.median(overhead), 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
