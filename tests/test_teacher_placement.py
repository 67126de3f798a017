"""Where the distillation teacher lives (student/scripts/teacher_placement.py): the ZeRO-3 engine's config
drops what only training uses and sizes its buckets from the teacher; under FSDP (torch's fully_shard, two
real processes over gloo on CPU) each process holds about half the teacher and the sharded forward gives the
whole teacher's logits. The ZeRO-3 path through the training script: tests/test_kd_sgo.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lion_cli.student.scripts.teacher_placement import TRAINING_ONLY_KEYS, held_share, teacher_engine_config

FSDP_CHECK = """
import json, os, sys, torch, torch.distributed as dist
from transformers import AutoModelForCausalLM
from lion_cli.student.scripts.teacher_placement import fsdp_teacher, held_share

dist.init_process_group("gloo")
ids = torch.tensor([[5, 17, 33, 2, 9, 41, 7, 3]])
whole = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
with torch.no_grad():
    expected = whole(ids).logits
teacher = fsdp_teacher(AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32))
with torch.no_grad():
    got = teacher(ids).logits
held, total = held_share(teacher)  # after a forward: the gathered weights were given back
out = {"held": held, "total": total, "max_diff": float((got - expected).abs().max())}
with open(os.path.join(sys.argv[2], f"rank{dist.get_rank()}.json"), "w") as f:
    json.dump(out, f)
dist.destroy_process_group()
"""


def test_the_zero3_teacher_config_has_no_optimizer_and_its_own_buckets() -> None:
    student = {"optimizer": {"type": "AdamW", "params": {"lr": 1e-4}}, "scheduler": {"type": "WarmupLR"},
               "zero_optimization": {"stage": 3, "reduce_bucket_size": 4096, "overlap_comm": True},
               "train_micro_batch_size_per_gpu": 2, "bf16": {"enabled": True}}
    config = teacher_engine_config(student, hidden_size=128)
    assert not set(TRAINING_ONLY_KEYS) & set(config)
    assert config["zero_optimization"] == {"stage": 3, "overlap_comm": True, "reduce_bucket_size": 128 * 128,
                                           "stage3_prefetch_bucket_size": int(0.9 * 128 * 128),
                                           "stage3_param_persistence_threshold": 1280}
    assert config["bf16"] == {"enabled": True} and config["train_micro_batch_size_per_gpu"] == 2
    assert student["zero_optimization"]["reduce_bucket_size"] == 4096 and "optimizer" in student  # a copy


def test_a_replicated_teacher_holds_all_its_parameters(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    held, total = held_share(model)
    assert held == total == sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_under_fsdp_each_process_holds_half_and_the_logits_are_the_whole_teachers(tiny_model_dir: Path,
                                                                                  tmp_path: Path) -> None:
    script = tmp_path / "fsdp_check.py"
    script.write_text(FSDP_CHECK, encoding="utf-8")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script),
                           str(tiny_model_dir), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    assert ranks[0]["total"] == ranks[1]["total"] > 0
    assert sum(r["held"] for r in ranks) == ranks[0]["total"]  # every parameter held once, by one process
    assert all(r["held"] < 0.6 * r["total"] for r in ranks)
    assert all(r["max_diff"] < 1e-5 for r in ranks), ranks
