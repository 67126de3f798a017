"""DeepSpeed ZeRO-2 and ZeRO-3 runs of the tiny model (2 processes under the deepspeed launcher, on
CPU over gloo) save a complete model that loads in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lion_cli.student.jobs import train
from lion_cli.student.specs import LaunchConfig
from tests.test_student_train import load_state, read_metrics, small_spec

LOAD_AND_RUN = """
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
ids = tok("### Instruction:\\nWrite about owls.\\n\\n### Response:\\n", return_tensors="pt").input_ids
with torch.no_grad():
    logits = model(ids).logits
assert torch.isfinite(logits).all()
print(model.num_parameters())
"""


@pytest.mark.parametrize("strategy", ["zero2", "zero3"])
def test_deepspeed_run_saves_a_loadable_model(tiny_model_dir: Path, tmp_path: Path, strategy: str) -> None:
    import torch

    spec = small_spec(tmp_path, tiny_model_dir, strategy=strategy, per_device_batch_size=2, max_steps=3)
    # The config says torchrun; a DeepSpeed strategy switches to the deepspeed launcher by itself.
    final = train(spec, LaunchConfig("torchrun", nproc_per_node=2))
    log = (Path(spec.output_dir) / "logs" / "train-000.log").read_text(encoding="utf-8")
    assert "deepspeed.launcher" in log or "[train] world size 2" in log
    assert "world size 2 × per-device batch 2 × accumulation 2 = global batch 8" in log
    metrics = read_metrics(Path(spec.output_dir))
    assert metrics[-1]["event"] == "done" and metrics[-1]["step"] == 3
    # The Trainer logs a NaN loss as 0 and DeepSpeed then skips the step (lr stays 0): both must not be.
    steps = [m for m in metrics if "loss" in m]
    assert all(m["loss"] > 0.5 for m in steps) and steps[-1]["lr"] > 0, steps
    # Every tensor at full shape (ZeRO-3 without gathering on save writes empty placeholders).
    saved, base = load_state(final), load_state(tiny_model_dir)
    # A tied head may be written out as its own (equal) tensor; it loads tied all the same.
    head = saved.pop("lm_head.weight", None)
    assert head is None or torch.equal(head, saved["model.embed_tokens.weight"])
    assert set(saved) == set(base)
    for name, tensor in base.items():
        if name != "model.embed_tokens.weight":
            assert saved[name].shape == tensor.shape, name
    assert saved["model.embed_tokens.weight"].shape[0] == base["model.embed_tokens.weight"].shape[0] + 1
    emb = "model.embed_tokens.weight"
    # The pad row started as the mean of the old rows (gathered under ZeRO-3); two small Adam steps
    # (lr ≤ 5e-3) move it far less than the distance of any random row from that mean.
    mean = base[emb].mean(dim=0)
    assert (saved[emb][-1] - mean).abs().max() < 0.012
    assert (base[emb][:50] - mean).abs().amax(dim=1).min() > 0.03
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(saved[q], base[q])  # it trained
    # A fresh process (loading again inside a ZeRO-3 process hangs) loads and runs it.
    proc = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(final)], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) == sum(t.numel() for t in saved.values())  # tied: head counted once
    assert json.loads((final / "config.json").read_text(encoding="utf-8"))["vocab_size"] == saved[
        "model.embed_tokens.weight"].shape[0]
