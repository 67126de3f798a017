"""How long `lion check` takes on a big project, as a ratio of `lion status` on the same one (target ≤ 2).

The project: 70,000 seed instructions written to a JSONL file and imported by `lion init` with the
shipped lion.toml (so student.base_model is empty and check reports it; every other check still runs:
the check reports all problems, it does not stop at the first). No probe. Both commands run as real
`python -m lion_cli` processes, interleaved, 7 times each; the ratio is of the median CPU time
(user + system of the child), which other load on a shared machine does not inflate; wall times are
printed beside it.

Loading the base model's config and tokenizer (transformers, which imports torch) costs seconds
whatever the size of the project, and is done once per model folder (remembered in lion's cache until
the folder's files change). The second project, the same seeds with base_model set to a small model
folder, shows both: first_model_check_cpu_s (the load) and with_model_ratio (the checks after it).

Run: .venv/bin/python bench/check_speed.py
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.0
SEEDS = 70_000
RUNS = 7
CACHE = tempfile.mkdtemp(prefix="lion-check-bench-cache-")  # lion's cache, empty: the first load is timed
TOPICS = ["rivers", "budgets", "poems", "compilers", "recipes", "elections", "glaciers", "markets", "operas",
          "vaccines", "bridges", "chess", "tides", "novels", "robots", "forests", "taxes", "comets"]
VERBS = ["Explain", "Summarise", "Write a short note about", "List three facts about", "Compare two kinds of",
         "Describe the history of", "Give advice on", "Plan a lesson on"]


def write_seeds(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(SEEDS):
            verb, topic = VERBS[i % len(VERBS)], TOPICS[(i // len(VERBS)) % len(TOPICS)]
            out.write(json.dumps({"instruction": f"{verb} {topic} (case {i}).", "input": "", "output": ""}) + "\n")


def write_model_folder(path: Path) -> Path:
    """config.json and a word-level tokenizer: what `lion check` loads of a base model."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
        "num_key_value_heads": 2, "num_hidden_layers": 1, "vocab_size": 8, "max_position_embeddings": 2048}))
    Tokenizer(WordLevel({"[UNK]": 0, "the": 1}, unk_token="[UNK]")).save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast",
                                                            "unk_token": "[UNK]"}))
    return path


def lion(*args: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `python -m lion_cli ARGS`; return it, its CPU seconds and its wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lion_cli", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OPENAI_API_KEY": "", "LION_CACHE_DIR": CACHE})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def timed(project: Path, runs: int) -> dict[str, dict[str, float]]:
    cpu: dict[str, list[float]] = {"check": [], "status": []}
    wall: dict[str, list[float]] = {"check": [], "status": []}
    for command in ("check", "status"):
        lion(command, str(project))  # warm the page cache and the .pyc files
    for _ in range(runs):
        for command in ("check", "status"):
            proc, c, w = lion(command, str(project))
            if proc.returncode not in (0, 2) or "Traceback" in proc.stderr:
                raise SystemExit(f"lion {command} failed ({proc.returncode}):\n{proc.stderr}")
            cpu[command].append(c)
            wall[command].append(w)
    return {k: {"cpu": statistics.median(cpu[k]), "wall": statistics.median(wall[k])} for k in cpu}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lion-check-bench-") as tmp:
        root = Path(tmp)
        seeds = root / "seeds.jsonl"
        write_seeds(seeds)
        project = root / "big"
        proc, _, init_wall = lion("init", str(project), "--seed", str(seeds))
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        size_mib = (project / "lion.db").stat().st_size >> 20
        print(f"lion init: {SEEDS:,} seeds in {init_wall:.1f} s; lion.db {size_mib} MiB")
        problems = lion("check", str(project))[0].stderr.strip().splitlines()
        print("lion check reports:\n  " + "\n  ".join(problems))
        plain = timed(project, RUNS)
        model = write_model_folder(root / "model")
        with_model = root / "big-with-model"
        lion("init", str(with_model), "--seed", str(seeds), "--set", f"student.base_model={model}")
        first_load = lion("check", str(with_model))[1]
        loaded = timed(with_model, 3)
    ratio = plain["check"]["cpu"] / plain["status"]["cpu"]
    model_ratio = loaded["check"]["cpu"] / loaded["status"]["cpu"]
    for name, t in (("status", plain["status"]), ("check", plain["check"]), ("check, model loaded", loaded["check"])):
        print(f"{name:>20}: median {t['cpu']:.3f} s CPU, {t['wall']:.3f} s wall")
    print(f"first check of the project with a base model (loads it): {first_load:.3f} s CPU")
    print(f"check / status = {ratio:.2f} (target ≤ {TARGET:g}); with a base model, once loaded {model_ratio:.2f}")
    print(json.dumps({"bench": "check_speed", "value": round(ratio, 3), "target": TARGET, "ok": ratio <= TARGET,
                      "check_cpu_s": round(plain["check"]["cpu"], 3), "status_cpu_s": round(plain["status"]["cpu"], 3),
                      "with_model_ratio": round(model_ratio, 3), "first_model_check_cpu_s": round(first_load, 3)}))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
