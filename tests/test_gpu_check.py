"""bench/gpu_check.sh --dry-run: the GPU check's whole path (lion's training, generation and scoring jobs
through the launcher) on the CPU with the tiny model, one JSON line per measure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_dry_run_prints_one_json_line_per_measure(tiny_model_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run", "--model", str(tiny_model_dir),
                           "--work-dir", str(tmp_path)], capture_output=True, text=True, timeout=600,
                          env={"LION_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_check = {line["check"]: line for line in lines}
    assert [line["check"] for line in lines] == ["train", "generate", "loglik"]
    assert all(line["dry_run"] is True for line in lines)
    train = by_check["train"]
    assert train["strategy"] == "fsdp" and train["steps"] == 3 and train["tokens_per_s"] > 0
    assert train["precision"] == "fp32" and train["mfu"] is None and train["parameters"] > 100_000
    assert (tmp_path / "train" / "final" / "config.json").exists()      # the training script's own output
    gen = by_check["generate"]
    assert gen["batched_tokens_per_s"] > 0 and gen["single_tokens_per_s"] > 0 and gen["speedup"] > 0
    assert (gen["prompts_batched"], gen["prompts_single"]) == (4, 1)
    assert by_check["loglik"]["options"] == 4 * 4 and by_check["loglik"]["options_per_s"] > 0


def test_without_a_gpu_the_full_check_refuses_and_says_dry_run(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import torch

    if torch.cuda.is_available():
        return
    assert module.main(["--work-dir", str(tmp_path)]) == 2
