"""The preference stage in the loop, end to end: a scripted two-iteration run with [preference] on
(after each imitation), SIGKILLed during iteration 1's DPO job and resumed. The pairs are the ones the
referee's scores say (chosen = teacher, rejected = student, gap ≥ margin, unscored never), the tuned
model becomes the iteration's student, the reference is computed once for the killed-and-resumed job,
and `lion status` shows the stage."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.loop_helpers import lion, make_project, start_lion, wait_for

pytestmark = pytest.mark.slow
PREFERENCE = ["preference.enabled=true", "preference.margin=0.0", "preference.global_batch_size=4",
              "preference.per_device_batch_size=2", "preference.max_length=128", "preference.lr=1e-4",
              "preference.epochs=3.0", "student.save_steps=1"]


def expected_pairs(db: Path, before: int) -> list[tuple[str, str]]:
    """(teacher answer, student answer) of every item judged before iteration `before` with gap ≥ 0,
    by the store's own rows (the latest judgement of an item counts)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT l.instruction_id, t.text, s.text FROM labels l"
            " JOIN responses t ON t.instruction_id = l.instruction_id AND t.role = 'teacher'"
            " JOIN responses s ON s.instruction_id = l.instruction_id AND s.role = 'student'"
            "  AND s.model = 'student-it' || l.iteration"
            " WHERE l.iteration < ? AND l.label != 'unscored' AND l.gap >= 0 ORDER BY l.iteration",
            (before,)).fetchall()
    finally:
        conn.close()
    return sorted({iid: (t, s) for iid, t, s in rows}.values())


def test_two_iterations_with_dpo_after_each_imitation_killed_and_resumed(tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.0, 0.02)) as url:
        project = make_project(tmp_path, url, tiny_model_dir, extra=PREFERENCE)
        db, log = project / "lion.db", tmp_path / "run.log"
        proc = start_lion("run", str(project), log=log)
        wait_for(db, "SELECT COUNT(*) FROM train_metrics m JOIN train_jobs j ON j.id = m.job_id"
                     " WHERE j.kind = 'dpo' AND j.iteration = 1 AND m.step >= 2", proc, timeout=900)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        done = lion("resume", str(project), timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]
    conn = sqlite3.connect(db)
    try:
        details = {it: json.loads(d) for it, d in conn.execute(
            "SELECT iteration, detail_json FROM stages WHERE stage = 'imitation'")}
        jobs = conn.execute("SELECT iteration, status FROM train_jobs WHERE kind = 'dpo' ORDER BY id").fetchall()
        dpo_margins = conn.execute("SELECT COUNT(margin) FROM train_metrics m JOIN train_jobs j ON j.id = m.job_id"
                                   " WHERE j.kind = 'dpo'").fetchone()[0]
        students = dict(conn.execute("SELECT iteration, student_path FROM iterations"))
    finally:
        conn.close()
    assert details[0]["preference"]["pairs"] == 0 and "skipped" in details[0]["preference"]
    folder = project / "students" / "iter-1" / "preference"
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((p["chosen"], p["rejected"]) for p in pairs) == expected_pairs(db, 1) != []
    assert details[1]["preference"]["pairs"] == len(pairs) and details[2]["preference"]["pairs"] >= len(pairs)
    assert Path(project, students[1]).resolve() == (folder / "final").resolve()
    # The killed job's row is left failed or cancelled; the resumed one and the final iteration's are done.
    assert [it for it, status in jobs if status == "done"] == [1, 2] and dpo_margins > 0
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [m["computed"] for m in metrics if m.get("event") == "reference"] == [True, False]
    assert any(m.get("event") == "resume" for m in metrics)
    status = lion("status", str(project))
    assert f"preference (DPO) on {len(pairs)} pairs: done" in status.stdout, status.stdout
