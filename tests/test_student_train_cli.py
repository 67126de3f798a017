"""`lion student train`: files mode inside a project (the job and its metrics land in the store) and
the usage errors. The in-process CliRunner runs the real command; training is a real subprocess."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.test_student_train import write_rows


def _project(tmp_path: Path, lion_cli, model: Path) -> Path:  # type: ignore[no-untyped-def]
    seed = tmp_path / "seeds.txt"
    seed.write_text("Name a colour.\nCount to three.\n", encoding="utf-8")
    project = tmp_path / "proj"
    sets = [f"student.base_model=\"{model}\"", "student.launcher=\"python\"", "student.global_batch_size=8",
            "student.per_device_batch_size=4", "student.max_length=128", "student.lr=0.005",
            "student.precision=\"fp32\""]
    result = lion_cli("init", str(project), "--seed", str(seed), *[a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.stderr
    return project


def test_train_files_mode_records_the_job(tmp_path: Path, lion_cli, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    project = _project(tmp_path, lion_cli, tiny_model_dir)
    data = write_rows(tmp_path / "train.jsonl", 16)
    out = tmp_path / "student"
    result = lion_cli("student", "train", "-C", str(project), "--data", str(data), "--out", str(out),
                      "--max-steps", "2", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["final"] == str(out.resolve() / "final") and summary["steps"] == 2
    assert (out / "final" / "model.safetensors").exists()
    assert "step 2/2 · loss" in result.stderr  # progress on stderr, the result alone on stdout
    db = sqlite3.connect(project / "lion.db")
    job = db.execute("SELECT id, status, exit_code, total_steps, output_dir FROM train_jobs").fetchall()
    assert job == [(summary["job_id"], "done", 0, 2, str(out.resolve()))]
    steps = [r[0] for r in db.execute("SELECT step FROM train_metrics WHERE job_id=? ORDER BY step", (job[0][0],))]
    assert steps == [1, 2]


def test_train_usage_errors_name_the_problem(tmp_path: Path, lion_cli, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    project = _project(tmp_path, lion_cli, tiny_model_dir)
    data = write_rows(tmp_path / "train.jsonl", 4)
    cases = [
        (["--data", str(data)], "files mode needs both --data and --out"),
        (["--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")], "missing.jsonl: no such file"),
        (["--data", str(data), "--out", str(tmp_path / "o"), "--strategy", "zero9"], "strategy 'zero9'"),
        (["--data", str(data), "--out", str(tmp_path / "o"), "--launcher", "slurm"], "--launcher slurm"),
        (["--max-steps", "3"], "--model and --max-steps apply to files mode"),
    ]
    for args, message in cases:
        result = lion_cli("student", "train", "-C", str(project), *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    # Project mode with no teacher answers yet: a clear error, nothing launched.
    result = lion_cli("student", "train", "-C", str(project))
    assert result.exit_code == 2 and "no teacher answers" in result.stderr, result.stderr
