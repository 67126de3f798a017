"""Student-generated outputs (issue 15 point 2) and the held-out KL metric (point 3): the adaptive
schedule as a pure function, a short adaptive run on tiny models that trains on the student's own samples
and records the held-out KL at each checkpoint, a SIGKILLed adaptive run that resumes with its schedule's
state, and the spec and config checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lion_cli.demo.tiny_model import CORPUS_PATH, build_tiny_model
from lion_cli.student.jobs import train
from lion_cli.student.scripts import sgo
from lion_cli.student.scripts.distill_eval import instruction_rows
from lion_cli.student.scripts.train import last_checkpoint, run
from lion_cli.student.specs import LaunchConfig, SpecError, TrainSpec
from tests.training_job_helpers import kill_training_at_first_checkpoint

HELD_OUT = 8


def test_the_probability_rises_only_when_the_held_out_loss_stalls() -> None:
    p, best = sgo.next_probability(0.0, None, 2.0)
    assert (p, best) == (0.0, 2.0)  # the first evaluation sets the best
    p, best = sgo.next_probability(p, best, 1.5)
    assert (p, best) == (0.0, 1.5)  # improved: p stays
    p, best = sgo.next_probability(p, best, 1.5)
    assert (p, best) == (pytest.approx(sgo.PROBABILITY_STEP), 1.5)  # no better: p rises, best kept
    p, best = sgo.next_probability(p, best, 1.7)
    assert p == pytest.approx(2 * sgo.PROBABILITY_STEP) and best == 1.5
    p, best = sgo.next_probability(p, best, 1.0)
    assert p == pytest.approx(2 * sgo.PROBABILITY_STEP) and best == 1.0  # an improvement never lowers p


def test_the_probability_never_exceeds_the_cap() -> None:
    p, best = 0.0, 1.0
    seen = []
    for _ in range(20):
        p, best = sgo.next_probability(p, best, 5.0)
        seen.append(p)
    assert max(seen) == pytest.approx(sgo.PROBABILITY_CAP) and all(x <= sgo.PROBABILITY_CAP + 1e-12 for x in seen)
    assert sgo.next_probability(0.9, 1.0, 0.5)[0] == sgo.PROBABILITY_CAP


def test_student_batches_are_drawn_from_the_seed_and_step_alone() -> None:
    draws = [sgo.uses_student_batch(3, step, 0.3) for step in range(200)]
    assert draws == [sgo.uses_student_batch(3, step, 0.3) for step in range(200)]
    assert 30 < sum(draws) < 90  # about 0.3 of the steps
    assert not any(sgo.uses_student_batch(3, step, 0.0) for step in range(200))


def test_the_replay_buffer_is_bounded_and_keeps_the_newest() -> None:
    state = sgo.SgoState()
    state.add([([i], [i, i]) for i in range(sgo.BUFFER_SIZE + 10)])
    assert len(state.buffer) == sgo.BUFFER_SIZE and state.buffer[0] == ([10], [10, 10])
    drawn = state.draw(0, "1.0", 4)
    assert drawn == state.draw(0, "1.0", 4) and len(drawn) == 4
    assert all(d["labels"][0] == -100 and d["labels"][1:] == d["input_ids"][1:] for d in drawn)


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untrained tiny teacher and a smaller untrained student (the schedule needs no good teacher),
    and 40 corpus rows whose last HELD_OUT are the held-out slice."""
    root = tmp_path_factory.mktemp("sgo")
    rows = instruction_rows(CORPUS_PATH.read_text(encoding="utf-8"))[:40]
    return {"root": root, "data": write_rows(root / "rows.jsonl", rows),
            "teacher": build_tiny_model(root / "teacher", seed=1, hidden=64, layers=1, heads=2),
            "student": build_tiny_model(root / "student", seed=2, hidden=32, layers=1, heads=2)}


def adaptive(models: dict[str, Path], out: Path, steps: int) -> TrainSpec:
    # A learning rate this small leaves the held-out KL where it is: it stalls, so p rises at once.
    return TrainSpec(model_path=str(models["student"]), data_path=str(models["data"]), output_dir=str(out),
                     max_steps=steps, lr=1e-9, lr_scheduler="constant", warmup_ratio=0.0, global_batch_size=4,
                     per_device_batch_size=4, max_length=96, precision="fp32", save_steps=1, seed=0,
                     objective="skew_kl", teacher_model=str(models["teacher"]), heldout_rows=HELD_OUT,
                     sgo="adaptive")


def step_lines(out: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return [m for m in lines if "event" not in m]


STEPS = 10


@pytest.fixture(scope="module")
def uninterrupted(models: dict[str, Path]) -> Path:
    """The output folder of an adaptive run of STEPS steps that nothing interrupted."""
    out = models["root"] / "adaptive"
    run(adaptive(models, out, STEPS), None)
    return out


@pytest.mark.slow
def test_an_adaptive_run_trains_on_student_samples_and_records_the_held_out_kl(uninterrupted: Path) -> None:
    assert (uninterrupted / "final" / "model.safetensors").is_file()
    lines = step_lines(uninterrupted)
    assert [m["step"] for m in lines] == list(range(1, STEPS + 1))
    assert all(m["heldout_kl"] > 0 for m in lines)  # save_steps 1: every step is an evaluation
    assert lines[-1]["sgo_batches"] >= 1  # the student's own samples were trained on
    assert 0 < lines[-1]["sgo_probability"] <= sgo.PROBABILITY_CAP
    state = sgo.SgoState.load(last_checkpoint(uninterrupted) or uninterrupted)
    assert state.buffer and state.student_batches == lines[-1]["sgo_batches"]


@pytest.mark.slow
def test_a_sigkilled_adaptive_run_resumes_with_its_schedule(models: dict[str, Path], uninterrupted: Path,
                                                            tmp_path: Path) -> None:
    job = adaptive(models, tmp_path / "out", STEPS)
    out = Path(job.output_dir)
    checkpoint = kill_training_at_first_checkpoint(job, tmp_path / "first.log")
    assert (checkpoint / sgo.STATE_FILE).is_file()
    train(job, LaunchConfig())
    assert (out / "final" / "model.safetensors").is_file()
    # The schedule, the buffer and the count came back from the checkpoint: every step after it goes as in
    # the uninterrupted run (a schedule restarted from p = 0 and an empty buffer would not).
    def schedule(folder: Path) -> dict[int, tuple[float, int]]:
        return {m["step"]: (m["sgo_probability"], m["sgo_batches"]) for m in step_lines(folder)}

    resumed, reference = schedule(out), schedule(uninterrupted)
    assert max(resumed) == STEPS
    after = range(int(checkpoint.name.split("-")[1]) + 1, STEPS + 1)
    assert [resumed[s] for s in after] == [reference[s] for s in after]
    assert sgo.SgoState.load(out / f"checkpoint-{STEPS}") == sgo.SgoState.load(uninterrupted / f"checkpoint-{STEPS}")


@pytest.mark.slow
def test_under_zero3_the_teacher_is_sharded_and_the_schedule_is_the_single_process_one(
        models: dict[str, Path], uninterrupted: Path, tmp_path: Path) -> None:
    """Two processes under DeepSpeed ZeRO-3: the teacher is partitioned (each process holds part of it),
    the sharded forward gives the held-out KL one process gets with a whole teacher, and the students
    sample in lock-step, so the schedule and its student batches are the single-process run's, step by step."""
    job = adaptive(models, tmp_path / "out", STEPS)
    job.strategy, job.per_device_batch_size = "zero3", 2  # 2 processes × 2 = the single run's batch of 4
    train(job, LaunchConfig("torchrun", nproc_per_node=2))
    out = Path(job.output_dir)
    log = (out / "logs" / "train-000.log").read_text(encoding="utf-8")
    held = re.search(r"teacher placed: this process holds ([\d,]+) of its ([\d,]+) parameters \(sharded\)", log)
    assert held, log[-3000:]
    mine, total = (int(g.replace(",", "")) for g in held.groups())
    assert 0 < mine < total
    sharded, whole = step_lines(out), step_lines(uninterrupted)
    assert [m["step"] for m in sharded] == list(range(1, STEPS + 1))
    assert [m["heldout_kl"] for m in sharded] == pytest.approx([m["heldout_kl"] for m in whole], rel=1e-5)
    assert [(m["sgo_probability"], m["sgo_batches"]) for m in sharded] == [
        (m["sgo_probability"], m["sgo_batches"]) for m in whole]
    assert sharded[-1]["sgo_batches"] >= 1


def test_sgo_needs_a_divergence_objective_and_held_out_rows(models: dict[str, Path]) -> None:
    good = adaptive(models, models["root"] / "v", 1)
    good.validate()
    for change, key in (({"objective": "sft", "heldout_rows": 0}, "'sgo'"), ({"objective": "sft"}, "'heldout_rows'"),
                        ({"heldout_rows": 0}, "'sgo'"),
                        ({"packing": True}, "'sgo'"), ({"sgo": "always"}, "sgo")):
        bad = TrainSpec(**{**good.__dict__, **change})
        with pytest.raises(SpecError, match=key):
            bad.validate()
    sharded = TrainSpec(**{**good.__dict__, "strategy": "fsdp", "per_device_batch_size": 2})
    sharded.validate(1)  # one process: FSDP shards nothing
    with pytest.raises(SpecError, match=r"'sgo'.*fsdp with 2 processes"):
        sharded.validate(2)
    TrainSpec(**{**good.__dict__, "strategy": "zero3", "per_device_batch_size": 2}).validate(2)


def test_held_out_rows_that_leave_nothing_to_train_on_are_named(models: dict[str, Path]) -> None:
    job = adaptive(models, models["root"] / "all-held", 1)
    job.heldout_rows = 40  # every row of the file
    with pytest.raises(SpecError, match=r"heldout_rows 40: .* has only 40 rows, none would be left to train on"):
        run(job, None)


def test_config_names_the_sgo_key_and_carries_it_into_the_train_spec(tmp_path: Path) -> None:
    from lion_cli.config import ConfigError, parse_settings
    from lion_cli.pipeline.student_specs import specs_from_settings

    def problems(student: dict[str, object]) -> str:
        with pytest.raises(ConfigError) as caught:
            parse_settings({"student": student})
        return str(caught.value)

    assert parse_settings({}).student.sgo == "off"
    assert "student.sgo" in problems({"sgo": "sometimes"})
    assert "student.sgo" in problems({"sgo": "adaptive"})  # sft: refused
    assert "student.heldout_rows" in problems({"heldout_rows": 4})  # sft has no teacher to score against
    needs_rows = problems({"sgo": "adaptive", "objective": "kl", "teacher_model": "t"})
    assert "student.sgo" in needs_rows and "heldout_rows" in needs_rows
    adaptive_kl = {"sgo": "adaptive", "objective": "kl", "teacher_model": "t", "heldout_rows": 4}
    # Several processes under FSDP (the default strategy) would sample from shards: refused, ZeRO-3 taken.
    on_shards = problems({**adaptive_kl, "nproc_per_node": 2})
    assert "student.sgo" in on_shards and "student.strategy fsdp with 2 processes" in on_shards
    assert "zero3" in problems({**adaptive_kl, "nnodes": 2, "strategy": "fsdp"})
    zero3 = parse_settings({"student": {**adaptive_kl, "nproc_per_node": 2, "strategy": "zero3"}})
    assert zero3.student.sgo == "adaptive"
    settings = parse_settings({"student": adaptive_kl})
    spec, _ = specs_from_settings(settings, model_path="m", data_path=tmp_path / "rows.jsonl",
                                  output_dir=tmp_path / "out", project_dir=tmp_path)
    assert (spec.sgo, spec.heldout_rows) == ("adaptive", 4)


def test_the_held_out_kl_reaches_the_store_and_lion_status(tmp_path: Path, lion_cli: Any) -> None:
    from tui_fixtures import build_known_project

    from lion_cli.store.db import open_store
    from lion_cli.store.jobs import add_metric, job_metrics, start_job

    d = build_known_project(tmp_path / "k")
    with open_store(d / "lion.db") as store:
        job = start_job(store, 1, "train", "{}", str(d / "students" / "iter-1"), 4)
        for step in (1, 2, 3):  # step 2 was a checkpoint step: the only one with a held-out KL
            add_metric(store, job, {"step": step, "loss": 1.0 / step, **({"heldout_kl": 0.4321} if step == 2 else {})})
        assert [m["heldout_kl"] for m in job_metrics(store, job)] == [None, 0.4321, None]
    as_json, text = lion_cli("status", str(d), "--json"), lion_cli("status", str(d))
    assert as_json.exit_code == 0 and text.exit_code == 0, as_json.stderr + text.stderr
    [it1] = [i for i in json.loads(as_json.stdout)["per_iteration"] if i["iteration"] == 1]
    assert it1["heldout_kl"] == {"status": "running", "step": 2, "heldout_kl": 0.4321}
    assert "held-out KL to the teacher 0.4321 at step 2 (imitation job running)" in text.stdout
    assert text.stdout.count("held-out KL") == 1  # iteration 0 had no distillation job


def test_lion_student_train_step_lines_carry_the_held_out_kl(capsys: pytest.CaptureFixture[str]) -> None:
    from lion_cli.cli.student_common import progress_printer

    report = progress_printer()
    report({"step": 3, "total_steps": 4, "loss": 0.03, "lr": 1e-5, "tokens_per_s": 90.0, "heldout_kl": 0.038,
            "sgo_probability": 0.1})
    report({"step": 4, "total_steps": 4, "loss": 0.03, "lr": 1e-5, "tokens_per_s": 90.0})
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["step 3/4 · loss 0.0300 · held-out KL 0.0380 · sgo p 0.10 · lr 1.00e-05 · 90 tok/s",
                     "step 4/4 · loss 0.0300 · lr 1.00e-05 · 90 tok/s"]
