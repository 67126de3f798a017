"""No stale work: `lion init --force` clears what lion wrote for the project it replaces (and only
that), and a training job resumes only from a checkpoint its own job wrote, so no weight of an old
project reaches a new one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lion_cli.store.db import open_store
from tests.check_support import fingerprint
from tests.loop_helpers import lion, make_project

SEEDS = Path(__file__).resolve().parent.parent / "lion_cli" / "data" / "demo_seeds.jsonl"


def _seeds(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _old_project(tmp_path: Path, lion_cli: Any) -> Path:
    """A project with something in every place lion writes, and files of the user's beside them."""
    from lion_cli.store.jobs import start_job
    from lion_cli.store.outputs import record_export

    project = tmp_path / "proj"
    assert lion_cli("init", str(project), "--seed", str(_seeds(tmp_path / "old.txt", ["Old one.", "Old two."]))
                    ).exit_code == 0
    for name in ("students/iter-0/checkpoint-21/model.safetensors", "students/iter-0/final/config.json",
                 "evals/student-it0/bbh/out.jsonl", ".lion-init-x1/lion.db", "manual/checkpoint-3/state.json",
                 "exports/delta/manifest.json", "exports/data.jsonl", "exports/data.pairs.jsonl"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("old project's", encoding="utf-8")
    for name in ("run.log", "demo-server.json", "lion.db-journal"):
        (project / name).write_text("old project's", encoding="utf-8")
    for name in ("notes.md", "models/base/config.json", "ds/zero.json", "seeds/mine.txt"):  # the user's
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("the user's", encoding="utf-8")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("an export outside the project", encoding="utf-8")
    with open_store(project / "lion.db") as store:
        start_job(store, None, "train", "{}", str(project / "manual"), None)
        for kind, path in (("delta", "exports/delta"), ("data", "exports/data.jsonl"),
                           ("pairs", "exports/data.pairs.jsonl")):
            record_export(store, kind, project / path, 0)
        record_export(store, "data", outside, None)
    return project


def test_init_force_clears_what_lion_wrote_and_keeps_the_users_files(tmp_path: Path, lion_cli: Any) -> None:
    project = _old_project(tmp_path, lion_cli)
    new_seeds = _seeds(project / "seeds" / "mine.txt", ["New one.", "New two.", "New three."])
    result = lion_cli("init", str(project), "--seed", str(new_seeds), "--force",
                      "--set", "student.base_model=models/base", "--set", "student.strategy=ds/zero.json")
    assert result.exit_code == 0, result.stderr
    left = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert left == ["ds/zero.json", "lion.db", "lion.toml", "models/base/config.json", "notes.md",
                    "seeds/mine.txt"], left
    # The folder the exports were written into may be the user's: it is left, empty.
    assert sorted(p.name for p in project.iterdir() if p.is_dir()) == ["ds", "exports", "models", "seeds"]
    assert not any((project / "exports").iterdir())
    assert (tmp_path / "elsewhere.jsonl").exists()  # an export outside the project is not lion's to clear
    with open_store(project / "lion.db", readonly=True) as store:
        assert [r[0] for r in store.query("SELECT text FROM instructions ORDER BY id")] == [
            "New one.", "New two.", "New three."]
        assert store.scalar("SELECT COUNT(*) FROM train_jobs") == 0
    # The seed file inside the project is named relative to it (the project can move).
    assert 'seed_file = "seeds/mine.txt"' in (project / "lion.toml").read_text(encoding="utf-8")
    help_text = " ".join(lion_cli("init", "--help").stdout.split())
    assert "students/, evals/, run.log" in help_text and "files you put here are kept" in help_text


def test_init_force_refuses_to_delete_a_file_the_new_project_needs(tmp_path: Path, lion_cli: Any) -> None:
    project = _old_project(tmp_path, lion_cli)
    before = fingerprint(project)
    result = lion_cli("init", str(project), "--seed", str(_seeds(tmp_path / "n.txt", ["N."])), "--force",
                      "--set", "student.base_model=students/iter-0/final")
    assert result.exit_code == 2
    assert "student.base_model" in result.stderr and "move it out" in result.stderr, result.stderr
    assert fingerprint(project) == before


def test_init_force_refuses_while_a_run_is_alive(tmp_path: Path, lion_cli: Any) -> None:
    project = _old_project(tmp_path, lion_cli)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom lion_cli.store.db import open_store\nfrom lion_cli.store.lock import acquire\n"
        f"lock = acquire(open_store({str(project / 'lion.db')!r}))\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = lion_cli("init", str(project), "--seed", str(_seeds(tmp_path / "n.txt", ["N."])), "--force")
        assert result.exit_code == 2 and "is running on this project" in result.stderr, result.stderr
        assert (project / "students" / "iter-0" / "checkpoint-21").is_dir()
    finally:
        holder.kill()
        holder.wait()


# --- the resume rule, unit level: the train script's choice of checkpoint --------------------------

def _spec(tmp_path: Path, data: str, **kw: Any) -> Any:
    from lion_cli.student.specs import TrainSpec

    (tmp_path / "data.jsonl").write_text(data, encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    return TrainSpec(model_path=str(model), data_path=str(tmp_path / "data.jsonl"),
                     output_dir=str(tmp_path / "out"), **{"job_id": "project A · iteration 0 · train", **kw})


def _checkpoint(out: Path, step: int, record: dict[str, Any] | None) -> Path:
    from lion_cli.student.scripts.checkpoint_record import write_record

    path = out / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text("{}", encoding="utf-8")
    if record is not None:
        write_record(path, record)
    return path


@pytest.mark.parametrize(("change", "reason"), [
    ({"job_id": "project B · iteration 0 · train"}, "another job"),
    ({"data": '{"instruction": "b", "output": "y"}\n'}, "other data"),
    ({"lr": 1e-3}, "settings differ (lr)"),
    ({"epochs": 2.0, "seed": 7}, "settings differ (epochs, seed)"),
])
def test_a_checkpoint_with_another_fingerprint_is_not_resumed_from(
        tmp_path: Path, change: dict[str, Any], reason: str) -> None:
    from lion_cli.student.scripts.checkpoint_record import job_record, stale_and_resumable

    first = _spec(tmp_path, '{"instruction": "a", "output": "x"}\n')
    out = Path(first.output_dir)
    own = _checkpoint(out, 4, job_record(first))
    data = change.pop("data", '{"instruction": "a", "output": "x"}\n')
    other = _spec(tmp_path, data, **change)
    stale, resume = stale_and_resumable(out, job_record(other))
    assert resume is None and [p for p, _ in stale] == [own]
    assert reason in stale[0][1], stale
    # The job that wrote it resumes from it; a newer checkpoint without a record is not resumed from.
    _spec(tmp_path, '{"instruction": "a", "output": "x"}\n')
    unrecorded = _checkpoint(out, 6, None)
    half_saved = out / "checkpoint-8"
    half_saved.mkdir()
    stale, resume = stale_and_resumable(out, job_record(first))
    assert resume == own
    assert [p for p, _ in stale] == [half_saved, unrecorded]


def test_a_checkpoint_from_before_a_setting_existed_resumes_while_the_setting_stays_default(tmp_path: Path) -> None:
    """A record written by an older lion lacks the settings added since; they stood at their defaults."""
    from lion_cli.student.scripts.checkpoint_record import job_record, stale_and_resumable

    spec = _spec(tmp_path, '{"instruction": "a", "output": "x"}\n')
    old = job_record(spec)
    for newer in ("objective", "skew_alpha"):
        del old["settings"][newer]
    own = _checkpoint(Path(spec.output_dir), 4, old)
    assert stale_and_resumable(Path(spec.output_dir), job_record(spec)) == ([], own)
    changed = job_record(_spec(tmp_path, '{"instruction": "a", "output": "x"}\n', skew_alpha=0.3))
    stale, resume = stale_and_resumable(Path(spec.output_dir), changed)
    assert resume is None and "skew_alpha" in stale[0][1]


def test_the_model_identity_is_its_content_not_its_place(tmp_path: Path) -> None:
    from lion_cli.student.scripts.checkpoint_record import model_identity

    spec = _spec(tmp_path, "{}\n")
    moved = shutil.copytree(spec.model_path, tmp_path / "moved-model")
    assert model_identity(str(moved)) == model_identity(spec.model_path)
    (moved / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    assert model_identity(str(moved)) != model_identity(spec.model_path)
    assert model_identity("org/some-model") == {"hub_id": "org/some-model"}


# --- end to end: a replaced project trains from step 0 and gets weights of its own -------------------

@pytest.mark.slow
def test_a_replaced_project_trains_afresh(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Trained once; `lion init --force` in the same folder with other seeds; run again: the new
    student is trained from step 0, never from the old project's checkpoint. The old job folder is
    put back by hand after the re-init as well, so the train script's own rule is proven too."""
    from lion_cli.server.process import running_server

    seeds = SEEDS.read_text(encoding="utf-8").splitlines(keepends=True)
    job = tmp_path / "proj" / "students" / "iter-0"
    with running_server(backend="scripted") as url:
        project = make_project(tmp_path, url, tiny_model_dir, iterations=1, seeds=16)
        first = lion("run", str(project), "--until", "imitation")
        assert first.returncode == 0, first.stderr[-3000:]
        old_weights = (job / "final" / "model.safetensors").read_bytes()
        old_checkpoints = sorted(p.name for p in job.glob("checkpoint-*"))
        assert old_checkpoints, "the old run left no checkpoint"
        shutil.copytree(job, tmp_path / "old-job")

        other = tmp_path / "other-seeds.jsonl"
        other.write_text("".join(seeds[16:40]), encoding="utf-8")
        again = lion("init", str(project), "--seed", str(other), "--force", *_loop_sets(url, tiny_model_dir))
        assert again.returncode == 0, again.stderr
        assert not (project / "students").exists()  # init --force cleared the old project's jobs
        shutil.copytree(tmp_path / "old-job", job)  # ... and had it not: the job's own rule
        second = lion("run", str(project), "--until", "imitation")
        assert second.returncode == 0, second.stderr[-3000:]
    assert (job / "final" / "model.safetensors").read_bytes() != old_weights
    new_lines = _train_metrics(job)[len(_train_metrics(tmp_path / "old-job")):]
    steps = [m["step"] for m in new_lines if "step" in m and "event" not in m]
    assert steps and steps[0] == 1, new_lines  # trained from step 0
    assert all(m.get("event") != "resume" for m in new_lines), new_lines
    log = sorted((job / "logs").glob("train-*.log"))[-1].read_text(encoding="utf-8")
    assert "resuming from" not in log
    for name in old_checkpoints:
        assert f"{name}: not resumed from, it has no record" in log or f"{name}: not resumed from, it was written by " \
            "another job" in log, log[-3000:]


def _train_metrics(job: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (job / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def _loop_sets(url: str, student: Path) -> list[str]:
    """The --set arguments of make_project's settings (the scripted server, the tiny student)."""
    from lion_cli.cli.demo import demo_overrides

    sets = [*demo_overrides(url, "scripted", student, real_model=False), "loop.iterations=1",
            "loop.new_per_iteration=8", "student.generation.max_new_tokens=24", "student.epochs=1.0"]
    return [a for s in sets for a in ("--set", s)]
