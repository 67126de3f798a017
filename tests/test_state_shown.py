"""The state shown is the state: `lion status` (text and --json) and the dashboard show the iterations
the run plans (--iterations, not lion.toml's once a run was asked for more), a stage whose run died
as interrupted (not 'running'), a failed one as failed with its error, and a generation stage that
gave up at its attempt limit with its counts (not 'done')."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tui_fixtures import CLOCK, DEAD_PID, build_known_project, screen_text

from lion_cli.cli.common import open_project
from lion_cli.core.run_state import RunIterations, planned_iterations, shown_stage
from lion_cli.store.db import open_store
from lion_cli.store.progress import begin_run
from lion_cli.tui.queries import DashboardReader

SIZE = (140, 45)
GAVE_UP = {"accepted_hard": 1, "accepted_easy": 3, "quota": {"hard": 3, "easy": 3}, "quota_met": False,
           "rejected": {"too similar": 2, "too short": 1}, "attempts": 7}


def _status(lion_cli: Any, d: Path) -> tuple[dict[str, Any], str]:
    as_json, text = lion_cli("status", str(d), "--json"), lion_cli("status", str(d))
    assert as_json.exit_code == 0 and text.exit_code == 0, as_json.stderr + text.stderr
    return json.loads(as_json.stdout), text.stdout


def _stage(status: dict[str, Any], iteration: int, stage: str) -> dict[str, Any]:
    [it] = [i for i in status["per_iteration"] if i["iteration"] == iteration]
    return it["stages"][stage]  # type: ignore[no-any-return]


def _strip(d: Path) -> str:
    """The dashboard's first screen, as `lion tui` opens it."""
    import asyncio

    from lion_cli.cli.common import project_plan
    from lion_cli.tui.app import LionDashboard

    async def read() -> str:
        app = LionDashboard(d, clock=lambda: CLOCK, refresh_s=None, plan=project_plan(d))
        async with app.run_test(size=SIZE) as pilot:
            while app.refreshes < 1:
                await pilot.pause(0.02)
            await pilot.pause()
            return screen_text(app)

    return asyncio.run(read())


# --- planned iterations ------------------------------------------------------------------------------

def test_the_planned_iterations_follow_the_last_runs_flag(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k")           # lion.toml: iterations = 3
    with open_store(d / "lion.db") as w:               # `lion resume --iterations 5`, as run_project records it
        begin_run(w, json.dumps({"loop": {"iterations": 3}}), "0.1", 5)
    status, text = _status(lion_cli, d)
    assert status["iterations"] == 5 and "(5 iterations planned;" in text
    # the projection covers the 5 iterations: after iteration 1, three more batches of new_per_iteration (6,000)
    # and the last iteration's for the final imitation
    assert status["projected_remaining_calls"]["teacher"] == 4 * 6000
    snap = DashboardReader(d, clock=lambda: CLOCK, plan=open_project(d, readonly=True).plan).refresh()
    assert snap.iterations_planned == 5 and snap.plan is not None and snap.plan.iterations == 5
    assert "it1 (2/5)" in _strip(d)


def test_an_edit_of_lion_toml_after_the_run_wins(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k")
    with open_store(d / "lion.db") as w:               # the run saw iterations = 2 in lion.toml and was asked for 5
        begin_run(w, json.dumps({"loop": {"iterations": 2}}), "0.1", 5)
    status, _ = _status(lion_cli, d)
    assert status["iterations"] == 3                   # lion.toml says 3 now: the newer wish


def test_run_project_records_the_iterations_it_was_asked_for(tmp_path: Path, lion_cli: Any) -> None:
    from lion_cli.cli.run import run_project

    d = build_known_project(tmp_path / "k", run_status="done")
    with open_store(d / "lion.db") as w, w.tx() as c:   # both iterations finished, and the final imitation
        c.execute("UPDATE iterations SET status='done'")
        c.execute("UPDATE stages SET status='done', done=total")
        c.execute("INSERT INTO iterations (iteration, status) VALUES (2, 'done')")
        c.execute("INSERT INTO stages (iteration, stage, status) VALUES (2, 'imitation', 'done')")
    assert run_project(open_project(d), 2, None, resume=True) == 0   # nothing left to do within 2
    status, text = _status(lion_cli, d)
    assert status["iterations"] == 2 and status["finished"] and "(2 iterations planned; finished" in text
    with open_store(d / "lion.db", readonly=True) as r:
        assert r.scalar("SELECT iterations FROM runs ORDER BY id DESC LIMIT 1") == 2


def test_planned_iterations_rule() -> None:
    assert planned_iterations(3, 7, RunIterations(5, 3)) == 7          # the flag, always
    assert planned_iterations(3, None, RunIterations(5, 3)) == 5       # the last run's, lion.toml unchanged
    assert planned_iterations(4, None, RunIterations(5, 3)) == 4       # lion.toml edited since
    assert planned_iterations(3, None, RunIterations(None, 3)) == 3    # a run recorded before the column
    assert planned_iterations(3, None, None) == 3                      # never run


# --- interrupted, failed, gave up ----------------------------------------------------------------------

def test_a_stage_whose_run_died_shows_interrupted(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k", run_pid=DEAD_PID)    # killed -9 in iteration 1's referee step
    status, text = _status(lion_cli, d)
    assert status["run_status"] == "stale"
    assert _stage(status, 1, "discrimination")["status"] == "interrupted"
    assert "discr:interrupted" in text and "discr:running" not in text
    screen = _strip(d)
    assert "discrimination ███░░░░░░░░░ interrupted at 25% referee 6/24" in screen


def test_a_stage_stored_as_interrupted_shows_interrupted(tmp_path: Path, lion_cli: Any) -> None:
    """What the loop writes when a signal stops a stage (the row says interrupted, the run too)."""
    d = build_known_project(tmp_path / "k", run_status="interrupted")
    with open_store(d / "lion.db") as w, w.tx() as c:
        c.execute("UPDATE stages SET status='interrupted' WHERE iteration=1 AND stage='discrimination'")
    status, text = _status(lion_cli, d)
    assert _stage(status, 1, "discrimination")["status"] == "interrupted" and "run: interrupted" in text
    assert status["next"] == {"iteration": 1, "stage": "discrimination"}   # where `lion resume` goes on
    screen = _strip(d)
    assert "discrimination interrupted │ run: interrupted" in screen
    assert "discrimination ███░░░░░░░░░ interrupted at 25% referee 6/24" in screen


def test_a_budget_pause_shows_the_stage_paused(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k", run_status="paused")   # the row is left running, the run paused
    status, _ = _status(lion_cli, d)
    assert _stage(status, 1, "discrimination")["status"] == "paused"


def test_a_stale_lock_alone_says_the_run_is_gone(tmp_path: Path, lion_cli: Any) -> None:
    """The runs row's process is alive (this one) but the lock's heartbeat stopped a minute ago: a hung
    or stopped run, as `lion run` would take its lock over."""
    d = build_known_project(tmp_path / "k")
    with open_store(d / "lion.db") as w, w.tx() as c:
        c.execute("INSERT INTO run_lock (id, run_id, pid, host, heartbeat_at) VALUES (1, 2, 1, 'h', ?)",
                  (CLOCK - 3600,))
    status, _ = _status(lion_cli, d)
    assert _stage(status, 1, "discrimination")["status"] == "interrupted"


def test_a_stage_the_run_is_in_shows_running(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k")            # the run's pid is this live test process
    status, _ = _status(lion_cli, d)
    assert status["run_status"] == "running" and _stage(status, 1, "discrimination")["status"] == "running"


def test_a_failed_stage_shows_failed_with_its_error(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k", run_status="failed")
    with open_store(d / "lion.db") as w:               # as run_loop logs a stage that raised
        w.event("iteration 1: discrimination stopped: RuntimeError: student generation returned no answer for"
                " instruction 9", level="error", iteration=1, stage="discrimination")
    status, text = _status(lion_cli, d)
    stage = _stage(status, 1, "discrimination")
    assert stage["status"] == "failed"
    assert stage["note"] == "RuntimeError: student generation returned no answer for instruction 9"
    assert "discrimination failed: RuntimeError: student generation returned no answer" in text
    screen = _strip(d)
    assert "discrimination ███░░░░░░░░░ failed at 25% referee 6/24" in screen
    assert "discrimination failed: RuntimeError: student generation returned no answer for instruction 9" in screen


def test_a_failed_stage_row_shows_its_stored_error(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k", run_status="failed")
    with open_store(d / "lion.db") as w, w.tx() as c:
        c.execute("UPDATE stages SET status='failed', detail_json=? WHERE iteration=1 AND stage='discrimination'",
                  (json.dumps({"error": "JobFailed: torchrun exited 1"}),))
    status, _ = _status(lion_cli, d)
    stage = _stage(status, 1, "discrimination")
    assert (stage["status"], stage["note"]) == ("failed", "JobFailed: torchrun exited 1")


def test_a_generation_that_gave_up_says_so_with_its_counts(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "k")
    with open_store(d / "lion.db") as w, w.tx() as c:   # as run_generation records an attempt limit reached
        c.execute("UPDATE stages SET detail_json=? WHERE iteration=0 AND stage='generation'", (json.dumps(GAVE_UP),))
    status, text = _status(lion_cli, d)
    stage = _stage(status, 0, "generation")
    assert stage["status"] == "gave up" and stage["note"] == "gave up: 4 of 6 accepted after 7 attempts"
    assert "gener:gave up" in text and "generation gave up: 4 of 6 accepted after 7 attempts" in text
    assert status["next"] == {"iteration": 1, "stage": "discrimination"}   # the loop went on past it
    screen = _strip(d)
    assert "generation ████████████ gave up: 4/6 after 7 attempts" in screen
    assert "discrimination · referee running" in screen   # the current stage is still the running one


@pytest.mark.parametrize(("status", "run", "shown"), [
    ("running", "running", "running"), ("running", "stale", "interrupted"), ("running", "interrupted", "interrupted"),
    ("running", "failed", "failed"), ("running", "paused", "paused"), ("running", "never run", "interrupted"),
    ("interrupted", "interrupted", "interrupted"), ("done", "stale", "done"), ("pending", "stale", "pending"),
])
def test_shown_stage_reads_the_row_with_its_run(status: str, run: str, shown: str) -> None:
    assert shown_stage("discrimination", status, {}, run).status == shown


def test_a_generation_that_met_its_quota_is_done() -> None:
    assert shown_stage("generation", "done", {**GAVE_UP, "quota_met": True}, "done").status == "done"
    assert shown_stage("generation", "done", {}, "done").status == "done"   # detail from before the field
