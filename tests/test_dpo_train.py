"""Real DPO jobs of the tiny model on CPU (issue 14's acceptance): a wider chosen-over-rejected margin
than the SFT student's on held-out pairs; the stored reference log-probabilities equal the ones
computed on the fly; a 2-process torchrun run leaves identical weights on both ranks; a SIGKILLed run
resumes from its checkpoint without computing the reference again; `lion student dpo` by hand."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from lion_cli.student import jobs
from lion_cli.student.jobs import dpo, train
from lion_cli.student.launcher import job_env
from lion_cli.student.scripts.train import last_checkpoint
from lion_cli.student.specs import DPOSpec, LaunchConfig, TrainSpec
from tests.training_job_helpers import kill_at_first_checkpoint, rank_dump

pytestmark = pytest.mark.slow
THINGS = ["river", "kite", "owl", "lamp", "map", "bell", "seed", "coin", "drum", "leaf", "rope", "shell"]
# Stated tolerance for reference log-probabilities (sums over an answer's ~20 tokens, about −80 nats, fp32):
# the same weights over batches of other widths and padding differ by float rounding only, measured up to
# 3e-3 here, so relative 1e-4 (+ 1e-4 absolute). Rewards and losses (beta 0.5 × those) within 1e-2.
LOGP_RTOL = LOGP_ATOL = 1e-4
STEP_ATOL = 1e-2


def pair(i: int) -> dict[str, str]:
    thing = THINGS[i % len(THINGS)]
    return {"prompt": f"Describe the {thing} number {i}.", "chosen": f"The {thing} is small and bright.",
            "rejected": f"{thing} {thing} no no."}


def write_pairs(path: Path, indices: range) -> Path:
    path.write_text("".join(json.dumps(pair(i)) + "\n" for i in indices), encoding="utf-8")
    return path


def dpo_spec(tmp_path: Path, model: Path, out: str = "dpo", **kw: Any) -> DPOSpec:
    base: dict[str, Any] = dict(model_path=str(model), data_path=str(write_pairs(tmp_path / "pairs.jsonl", range(24))),
                                output_dir=str(tmp_path / out), lr=2e-3, beta=0.5, global_batch_size=4,
                                per_device_batch_size=2, max_length=64, precision="fp32", save_steps=100)
    base.update(kw)
    return DPOSpec(**base)


def read_metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def steps(out: Path) -> list[dict[str, Any]]:
    return [m for m in read_metrics(out) if "step" in m and "event" not in m]


def held_out_margin(model_dir: Path, pairs: list[dict[str, str]]) -> float:
    """Mean log p(chosen) − log p(rejected) over the pairs, each pair scored alone (no padding)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lion_cli.student.scripts.dpo_data import PairCollator, sequence_logps, tokenize_pair

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    margins = []
    with torch.no_grad():
        for p in pairs:
            rows = tokenize_pair(tok, as_loaded(p), "alpaca", 64)
            assert rows is not None
            logps = sequence_logps(model, PairCollator(pad)([dict(rows, index=0)]))
            margins.append(float(logps[0] - logps[1]))
    return sum(margins) / len(margins)


def as_loaded(p: dict[str, str]) -> dict[str, str]:
    """A pairs-file row as dpo_data.load_pairs keeps it."""
    return {"instruction": p["prompt"], "input": "", "chosen": p["chosen"], "rejected": p["rejected"]}


def test_dpo_widens_the_held_out_margin_over_the_sft_student(tiny_model_dir: Path, tmp_path: Path) -> None:
    sft_rows = [{"instruction": pair(i)["prompt"], "output": pair(i)["chosen"] if i % 2 else pair(i)["rejected"]}
                for i in range(24)]
    (tmp_path / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sft_rows), encoding="utf-8")
    sft = train(TrainSpec(model_path=str(tiny_model_dir), data_path=str(tmp_path / "sft.jsonl"),
                          output_dir=str(tmp_path / "sft"), lr=5e-3, epochs=1.0, global_batch_size=8,
                          per_device_batch_size=4, max_length=64, precision="fp32"), LaunchConfig())
    tuned = dpo(dpo_spec(tmp_path, sft, epochs=2.0), LaunchConfig())
    held_out = [pair(i) for i in range(100, 112)]
    before, after = held_out_margin(sft, held_out), held_out_margin(tuned, held_out)
    assert after > before + 1.0, (before, after)
    lines = steps(tmp_path / "dpo")
    assert {"rewards_chosen", "rewards_rejected", "margin", "accuracy"} <= set(lines[-1])
    assert lines[-1]["margin"] > lines[0]["margin"] and lines[-1]["accuracy"] >= 0.5


def test_stored_reference_logps_equal_the_ones_computed_on_the_fly(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    precomputed = dpo(dpo_spec(tmp_path, tiny_model_dir, "pre", max_steps=3), LaunchConfig())
    dpo(dpo_spec(tmp_path, tiny_model_dir, "fly", max_steps=3, precompute_ref=False), LaunchConfig())
    stored = load_file(str(tmp_path / "pre" / "reference_logps.safetensors"))
    assert not (tmp_path / "fly" / "reference_logps.safetensors").exists()
    # The file against the reference model scoring each pair alone (batch of one, no padding).
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lion_cli.student.scripts.dpo_data import PairCollator, sequence_logps, tokenize_pair

    tok = AutoTokenizer.from_pretrained(precomputed)  # the pad token the job added
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    with torch.no_grad():
        for i in range(24):
            rows = tokenize_pair(tok, as_loaded(pair(i)), "alpaca", 64)
            logps = sequence_logps(model, PairCollator(tok.pad_token_id)([dict(rows, index=i)]))
            torch.testing.assert_close(stored["chosen"][i], logps[0], atol=LOGP_ATOL, rtol=LOGP_RTOL)
            torch.testing.assert_close(stored["rejected"][i], logps[1], atol=LOGP_ATOL, rtol=LOGP_RTOL)
    # The same training run either way: losses and rewards step by step.
    pre, fly = steps(tmp_path / "pre"), steps(tmp_path / "fly")
    assert len(pre) == len(fly) == 3
    for a, b in zip(pre, fly, strict=True):
        for key in ("loss", "rewards_chosen", "rewards_rejected", "margin"):
            assert a[key] == pytest.approx(b[key], abs=STEP_ATOL), (key, a, b)
    assert abs(pre[0]["margin"]) < STEP_ATOL  # step 1: the policy is the reference


RANK_DUMP = rank_dump("dpo")


def test_torchrun_two_processes_leave_identical_weights(tiny_model_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    (tmp_path / "dpo_rank_dump.py").write_text(RANK_DUMP, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(jobs, "DPO_SCRIPT", "dpo_rank_dump")
    spec = dpo_spec(tmp_path, tiny_model_dir, per_device_batch_size=1, max_steps=3)
    dpo(spec, LaunchConfig("torchrun", nproc_per_node=2))
    out = Path(spec.output_dir)
    r0, r1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    for rank in (0, 1):
        seen = json.loads((out / f"rank{rank}.json").read_text(encoding="utf-8"))
        assert seen == {"world_size": 2, "wrapper": "DistributedDataParallel"}, seen
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"{k} differs between the ranks"
    q = "model.layers.0.self_attn.q_proj.weight"
    from safetensors.torch import load_file

    assert not torch.equal(r0[q], load_file(str(tiny_model_dir / "model.safetensors"))[q])
    events = [m for m in read_metrics(out) if m.get("event") == "reference"]
    assert events == [{"event": "reference", "computed": True, "pairs": 24, "ts": events[0]["ts"]}]
    log = next((out / "logs").glob("dpo-*.log")).read_text(encoding="utf-8")
    assert "world size 2 × per-device batch 1 × accumulation 2 = global batch 4" in log


def test_sigkilled_dpo_resumes_from_its_checkpoint_without_recomputing_the_reference(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    spec = dpo_spec(tmp_path, tiny_model_dir, epochs=3.0, save_steps=2, save_total_limit=3, max_steps=10)
    out = Path(spec.output_dir)
    out.mkdir(parents=True)
    spec.write(out / "spec.json")
    kill_at_first_checkpoint([sys.executable, "-m", "lion_cli.student.scripts.dpo", "--spec", str(out / "spec.json")],
                             out, tmp_path / "first.log", job_env(LaunchConfig()))
    ckpt = last_checkpoint(out)
    assert ckpt is not None and not (out / "final").exists()
    resumed_from = int(ckpt.name.split("-")[1])
    reference = out / "reference_logps.safetensors"
    written = (reference.stat().st_mtime_ns, reference.read_bytes())

    dpo(spec, LaunchConfig())
    metrics = read_metrics(out)
    assert [m["computed"] for m in metrics if m.get("event") == "reference"] == [True, False]
    assert (reference.stat().st_mtime_ns, reference.read_bytes()) == written
    resume = [m for m in metrics if m.get("event") == "resume"]
    assert [m["from_step"] for m in resume] == [resumed_from]
    after = [m["step"] for m in metrics[metrics.index(resume[0]) + 1:] if "step" in m and "event" not in m]
    assert after == list(range(resumed_from + 1, 11)), after
    assert metrics[-1]["event"] == "done" and metrics[-1]["step"] == 10
    # Other pairs are another pair set: the reference is computed for them.
    write_pairs(Path(spec.data_path), range(30, 54))
    dpo(spec, LaunchConfig())
    assert [m["computed"] for m in read_metrics(out) if m.get("event") == "reference"] == [True, False, True]


def test_lion_student_dpo_by_hand_records_the_job_in_a_project(tiny_model_dir: Path, tmp_path: Path,
                                                                lion_cli: Any) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl", range(8))
    result = lion_cli("student", "dpo", "--pairs", str(pairs), "--model", str(tiny_model_dir), "--out",
                      str(tmp_path / "out"), "--max-steps", "2", "--launcher", "python", "--beta", "0.2",
                      "--project", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["steps"] == 2 and Path(summary["final"], "config.json").is_file()
    spec = json.loads((tmp_path / "out" / "spec.json").read_text(encoding="utf-8"))
    assert spec["beta"] == 0.2 and spec["data_path"] == str(pairs)
    assert "reference log-probs computed" in result.stderr
    bad = lion_cli("student", "dpo", "--pairs", str(pairs), "--model", str(tiny_model_dir), "--out",
                   str(tmp_path / "out2"), "--loss-type", "kto")
    assert bad.exit_code == 2 and "--loss-type" in bad.stderr
