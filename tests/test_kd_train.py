"""White-box distillation through the training script on CPU (issue 15's acceptance): a tiny teacher
(fine-tuned on lion's tiny corpus) distilled into a smaller tiny student. From the same student, with the
same steps and seed, the skew KL objective leaves the student closer to the teacher on held-out rows than
SFT on the same answers; a 2-process torchrun run leaves identical weights on both ranks; a SIGKILLed run
resumes from its checkpoint, and never from one distilled from another teacher.

The student starts from a briefly fine-tuned base, as DistiLLM's students start from SFT: from random
weights the skew KL's gradient is bounded (the mixture keeps α·p under the student), so it needs more
steps than this test can afford."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from lion_cli.demo.tiny_model import CORPUS_PATH, build_tiny_model
from lion_cli.student import jobs
from lion_cli.student.jobs import train
from lion_cli.student.scripts.checkpoint_record import job_record, mismatch
from lion_cli.student.scripts.distill_eval import held_out_kl, instruction_rows
from lion_cli.student.scripts.train import run
from lion_cli.student.specs import LaunchConfig, TrainSpec
from tests.training_job_helpers import kill_training_at_first_checkpoint, rank_dump

pytestmark = pytest.mark.slow
HELD_OUT = 20  # the corpus's last rows: never in the student's training data
STEPS = 20


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def spec(model: Path, data: Path, out: Path, steps: int, lr: float, **kw: Any) -> TrainSpec:
    return TrainSpec(model_path=str(model), data_path=str(data), output_dir=str(out), max_steps=steps, lr=lr,
                     lr_scheduler="constant", warmup_ratio=0.0, global_batch_size=8, per_device_batch_size=8,
                     max_length=128, precision="fp32", save_steps=1000, seed=0, **kw)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The teacher (2 layers × 128, fine-tuned on every corpus row), the student's base (1 layer × 64,
    fine-tuned briefly on the training rows), those rows and the held-out ones."""
    root = tmp_path_factory.mktemp("kd")
    rows = instruction_rows(CORPUS_PATH.read_text(encoding="utf-8"))
    train_rows, held = rows[:-HELD_OUT], rows[-HELD_OUT:]
    data = write_rows(root / "train.jsonl", train_rows)
    teacher0 = build_tiny_model(root / "teacher0", seed=1, hidden=128, layers=2)
    teacher = run(spec(teacher0, write_rows(root / "all.jsonl", rows), root / "teacher", 60, 3e-3), None)
    student0 = build_tiny_model(root / "student0", seed=2, hidden=64, layers=1, heads=2)
    base = run(spec(student0, data, root / "base", 40, 1e-2), None)
    return {"root": root, "teacher": teacher, "base": base, "data": data, "held": held}


def test_skew_kl_leaves_the_student_closer_to_the_teacher_than_sft(setup: dict[str, Any]) -> None:
    root, teacher = setup["root"], setup["teacher"]
    sft = run(spec(setup["base"], setup["data"], root / "sft", STEPS, 3e-3), None)
    skew = run(spec(setup["base"], setup["data"], root / "skew_kl", STEPS, 3e-3, objective="skew_kl",
                    teacher_model=str(teacher)), None)
    kl_sft, kl_skew = (held_out_kl(teacher, m, setup["held"]) for m in (sft, skew))
    assert kl_skew < kl_sft, (kl_skew, kl_sft)
    # The step lines' loss is the skew KL itself: at most log(1/α), which no cross-entropy here is near.
    losses = [json.loads(line).get("loss") for line in (root / "skew_kl" / "metrics.jsonl").read_text().splitlines()]
    stepped = [x for x in losses if x is not None]
    assert len(stepped) == STEPS and all(0 <= x <= math.log(1 / 0.1) for x in stepped)


def test_torchrun_two_processes_leave_identical_weights(setup: dict[str, Any], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    (tmp_path / "kd_rank_dump.py").write_text(rank_dump("train"), encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(jobs, "TRAIN_SCRIPT", "kd_rank_dump")
    job = spec(setup["base"], setup["data"], tmp_path / "out", 3, 3e-3, objective="skew_rkl",
               teacher_model=str(setup["teacher"]))
    job.per_device_batch_size = 4
    train(job, LaunchConfig("torchrun", nproc_per_node=2))
    out = Path(job.output_dir)
    r0, r1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    assert json.loads((out / "rank0.json").read_text())["world_size"] == 2
    assert r0.keys() == r1.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    from safetensors.torch import load_file

    base = load_file(str(Path(setup["base"]) / "model.safetensors"))
    assert any(not torch.equal(r0[k], base[k]) for k in base if k in r0)  # the steps moved the weights


def test_sigkilled_distillation_resumes_from_its_checkpoint(setup: dict[str, Any], tmp_path: Path) -> None:
    job = spec(setup["base"], setup["data"], tmp_path / "out", 6, 3e-3, objective="skew_kl",
               teacher_model=str(setup["teacher"]))
    job.save_steps = 2
    out = Path(job.output_dir)
    checkpoint = kill_training_at_first_checkpoint(job, tmp_path / "first.log")
    assert not (out / "final").exists()
    from_step = int(checkpoint.name.split("-")[1])
    train(job, LaunchConfig())
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    resumed = [m for m in lines if m.get("event") == "resume"]
    assert [m["from_step"] for m in resumed] == [from_step]
    after = [m["step"] for m in lines[lines.index(resumed[0]) + 1:] if "step" in m and "event" not in m]
    assert after == list(range(from_step + 1, 7))


def test_a_checkpoint_of_another_teacher_is_not_resumed(setup: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    other = shutil.copytree(setup["teacher"], tmp_path / "other_teacher")
    (other / "model.safetensors").write_bytes(b"other weights")
    ours = spec(setup["base"], setup["data"], tmp_path / "o", 6, 3e-3, objective="kl",
                teacher_model=str(setup["teacher"]))
    moved = spec(setup["base"], setup["data"], tmp_path / "o", 6, 3e-3, objective="kl",
                 teacher_model=str(shutil.copytree(setup["teacher"], tmp_path / "moved_teacher")))
    changed = spec(setup["base"], setup["data"], tmp_path / "o", 6, 3e-3, objective="kl", teacher_model=str(other))
    assert mismatch(job_record(ours), job_record(moved)) is None  # the same teacher elsewhere: resumed
    assert "another teacher" in str(mismatch(job_record(ours), job_record(changed)))
