"""Real training runs of the tiny model through the training script: 2-process torchrun DDP (identical
weights on both ranks, metrics streamed into the store), a SIGKILLed run resumed from its checkpoint,
LoRA merged into a full model. DeepSpeed runs are in test_student_train_deepspeed.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lion_cli.store.db import open_store
from lion_cli.store.jobs import add_metric, job_metrics, start_job
from lion_cli.student import jobs
from lion_cli.student.jobs import train
from lion_cli.student.launcher import job_env
from lion_cli.student.scripts.train import last_checkpoint
from lion_cli.student.specs import LaunchConfig, LoraSpec, TrainSpec
from tests.training_job_helpers import kill_at_first_checkpoint, rank_dump


def write_rows(path: Path, n: int = 32) -> Path:
    """n instruction → answer rows of mixed lengths, some with an input."""
    topics = ["rivers", "bread", "kites", "owls", "glass", "maps", "tea", "bells"]
    rows = []
    for i in range(n):
        t = topics[i % len(topics)]
        rows.append({"instruction": f"Write {1 + i % 3} sentence(s) about {t}.",
                     "input": f"Focus on {topics[(i + 3) % len(topics)]}." if i % 4 == 0 else "",
                     "output": " ".join([f"{t.capitalize()} are worth a look, note {i}."] * (1 + i % 5))})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def small_spec(tmp_path: Path, model: Path, **kw: Any) -> TrainSpec:
    base: dict[str, Any] = dict(model_path=str(model), data_path=str(write_rows(tmp_path / "train.jsonl")),
                                output_dir=str(tmp_path / "out"), epochs=1.0, lr=5e-3, global_batch_size=8,
                                per_device_batch_size=4, max_length=128, precision="bf16", save_steps=100)
    base.update(kw)
    return TrainSpec(**base)


def read_metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def load_state(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


RANK_DUMP = rank_dump("train")


def test_ddp_two_processes_train_identical_weights_and_stream_metrics(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    (tmp_path / "rank_dump.py").write_text(RANK_DUMP, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(jobs, "TRAIN_SCRIPT", "rank_dump")
    # Packing and the chat format on: the run exercises position-id packing under DDP too.
    spec = small_spec(tmp_path, tiny_model_dir, per_device_batch_size=2, packing=True, prompt_format="chat",
                      max_length=96)
    store = open_store(tmp_path / "lion.db")
    job = start_job(store, 0, "train", spec.to_json(), spec.output_dir, None)
    live: list[int] = []

    def on_metric(m: dict[str, Any]) -> None:
        if add_metric(store, job, m):
            live.append(len(job_metrics(store, job)))

    final = train(spec, LaunchConfig("torchrun", nproc_per_node=2), on_metric=on_metric)
    out = Path(spec.output_dir)
    r0, r1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    for rank in (0, 1):
        # Identical weights alone prove nothing if both ranks trained alone on the same data: each rank
        # must have been a DDP replica of a 2-process job (gradients all-reduced).
        seen = json.loads((out / f"rank{rank}.json").read_text(encoding="utf-8"))
        assert seen["world_size"] == 2 and seen["wrapper"] == "DistributedDataParallel", seen
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"{k} differs between the ranks: DDP did not synchronise"
    base = load_state(tiny_model_dir)
    emb = "model.embed_tokens.weight"
    assert r0[emb].shape[0] == base[emb].shape[0] + 1  # the pad row
    assert not torch.equal(r0["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"])
    saved = load_state(final)
    assert torch.equal(saved["model.layers.1.mlp.up_proj.weight"], r0["model.layers.1.mlp.up_proj.weight"])
    # Global batch 8 = 2 processes × 2 per device × 2 accumulation: same optimizer steps as 1 process.
    log = (out / "logs" / "train-000.log").read_text(encoding="utf-8")
    assert "world size 2 × per-device batch 2 × accumulation 2 = global batch 8" in log
    steps = [m for m in read_metrics(out) if "step" in m and "event" not in m]
    rows = job_metrics(store, job)
    assert [r["step"] for r in rows] == [m["step"] for m in steps] and len(rows) >= 2
    assert live == list(range(1, len(rows) + 1))  # one row per metric, written as each arrived
    assert all(r["loss"] > 0 and r["tokens"] > 0 for r in rows)
    cfg = json.loads((final / "config.json").read_text(encoding="utf-8"))
    assert cfg["use_cache"] is True and cfg["pad_token_id"] == r0[emb].shape[0] - 1
    assert not (final / "training_args.bin").exists()


def _global_step(out: Path) -> int:
    steps = [m["step"] for m in read_metrics(out) if "step" in m and "event" not in m] if (
        out / "metrics.jsonl").exists() else []
    return max(steps, default=0)


def test_sigkilled_run_resumes_from_its_last_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    spec = small_spec(tmp_path, tiny_model_dir, epochs=3.0, save_steps=2, save_total_limit=3, max_steps=10,
                      per_device_batch_size=8)
    out = Path(spec.output_dir)
    out.mkdir(parents=True)
    (out / "spec.json").write_text(spec.to_json(), encoding="utf-8")
    env = job_env(LaunchConfig())
    kill_at_first_checkpoint([sys.executable, "-m", "lion_cli.student.scripts.train", "--spec", str(out / "spec.json")],
                             out, tmp_path / "first.log", env)
    ckpt = last_checkpoint(out)
    assert ckpt is not None and not (out / "final").exists()
    resumed_from = int(ckpt.name.split("-")[1])
    assert resumed_from < 10

    final = train(spec, LaunchConfig())
    metrics = read_metrics(out)
    resume = [m for m in metrics if m.get("event") == "resume"]
    assert [m["from_step"] for m in resume] == [resumed_from]
    after = [m["step"] for m in metrics[metrics.index(resume[0]) + 1:] if "step" in m and "event" not in m]
    assert after == list(range(resumed_from + 1, 11)), after  # no step redone before the checkpoint
    assert metrics[-1]["event"] == "done" and metrics[-1]["step"] == 10
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(final)


def test_lora_run_merges_into_a_full_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    spec = small_spec(tmp_path, tiny_model_dir, lora=LoraSpec(enabled=True, r=4, alpha=8, dropout=0.0,
                                                              target_modules=["q_proj", "v_proj"]), max_steps=3)
    final = train(spec, LaunchConfig())
    assert not (final / "adapter_config.json").exists() and (Path(spec.output_dir) / "adapter").is_dir()
    merged, base = load_state(final), load_state(tiny_model_dir)
    assert set(merged) == set(base)  # a plain model: no lora_A / lora_B tensors left
    q, v, k = (f"model.layers.0.self_attn.{n}_proj.weight" for n in "qvk")
    assert not torch.equal(merged[q], base[q]) and not torch.equal(merged[v], base[v])  # adapters folded in
    assert torch.equal(merged[k], base[k])  # untargeted weights untouched
    emb = "model.embed_tokens.weight"
    assert torch.equal(merged[emb][:-1], base[emb])
    torch.testing.assert_close(merged[emb][-1], base[emb].mean(dim=0))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(final)
    tok = AutoTokenizer.from_pretrained(final)
    assert tok.pad_token_id == model.config.pad_token_id == base[emb].shape[0]


def test_bad_spec_exits_2_naming_the_key(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model_path": "m", "data_path": "d", "output_dir": "o", "lr_rate": 1}),
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "lion_cli.student.scripts.train", "--spec", str(spec)],
                          capture_output=True, text=True, env=job_env(LaunchConfig()), timeout=120)
    assert proc.returncode == 2 and "unknown key(s) ['lr_rate']" in proc.stderr
