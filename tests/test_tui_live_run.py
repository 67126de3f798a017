"""The dashboard on a real run: a scripted `lion run` (a subprocess, the loopback server, the tiny
student trained and sampled by real subprocesses) writes the store while the Textual app refreshes
from it every 50 ms. Neither side may see "database is locked", and once the run has finished the
dashboard must show exactly the numbers the store holds."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_fixtures import screen_text

from lion_cli.tui.app import LionDashboard
from lion_cli.tui.snapshot import Snapshot
from tests.loop_helpers import PRICED, make_project, start_lion

pytestmark = pytest.mark.slow
RUN_TIMEOUT_S = 400.0


def _store_numbers(db: Path) -> dict[str, object]:
    """The final numbers, read straight from the finished run's store (dollars approximately: the
    dashboard sums them incrementally, in another order)."""
    conn = sqlite3.connect(db)
    try:
        calls = {r[0]: (r[1], pytest.approx(r[2])) for r in conn.execute(
            "SELECT role, COUNT(*), SUM(CASE WHEN cached=0 THEN cost_usd ELSE 0 END) FROM api_calls GROUP BY role")}
        labels = dict(conn.execute("SELECT label, COUNT(*) FROM labels WHERE iteration=0 GROUP BY label").fetchall())
        accepted = conn.execute("SELECT COUNT(*) FROM candidates WHERE iteration=0 AND accepted=1").fetchone()[0]
        rejected = conn.execute("SELECT COUNT(*) FROM candidates WHERE iteration=0 AND accepted=0").fetchone()[0]
        steps = conn.execute("SELECT MAX(step) FROM train_metrics").fetchone()[0]
        events = conn.execute("SELECT message FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]
        spent = conn.execute("SELECT SUM(cost_usd) FROM api_calls WHERE cached=0").fetchone()[0]
    finally:
        conn.close()
    return {"calls": calls, "labels": labels, "accepted": accepted, "rejected": rejected, "steps": steps,
            "last_event": events, "spent": spent}


def _shown_numbers(snap: Snapshot) -> dict[str, object]:
    [lab] = snap.labels
    [gen] = snap.generation
    return {
        "calls": {r: (u.calls, u.cost_usd) for r, u in snap.roles.items() if u.calls},
        "labels": {k: n for k, n in (("hard", lab.hard), ("easy", lab.easy), ("unscored", lab.unscored)) if n},
        "accepted": gen.accepted, "rejected": sum(gen.rejected.values()),
        "steps": snap.train.step if snap.train else None,
    }


async def test_dashboard_follows_a_scripted_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    log = tmp_path / "run.log"
    with running_server(backend="scripted", latency=(0.0, 0.02)) as url:
        project = make_project(tmp_path, url, tiny_model_dir, iterations=1, new=4, seeds=8, extra=PRICED)
        app = LionDashboard(project, refresh_s=0.05)
        async with app.run_test(size=(140, 45)) as pilot:
            proc = start_lion("run", str(project), log=log)
            try:
                refreshes_during_run = await _watch(pilot, app, proc)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            assert proc.returncode == 0, log.read_text()[-3000:]
            # the first refresh that starts after the exit reads the finished store
            after = app.refreshes
            await _until(pilot, lambda: app.refreshes >= after + 2, 10.0)
            snap = app.snapshot
            assert snap is not None
            text = screen_text(app)
            await pilot.press("6")
            await pilot.pause()
            log_text = screen_text(app)
    run_log = log.read_text()
    assert "locked" not in run_log and "Traceback" not in run_log, run_log[-3000:]
    assert app.read_errors == []                        # no failed read on the dashboard's side either
    assert refreshes_during_run >= 20                   # it really read while the run was writing
    assert snap.run_status == "done" and "run: done" in text
    assert [(s.iteration, s.stage, s.status) for s in snap.stages] == [   # then the final imitation on everything
        (0, "imitation", "done"), (0, "discrimination", "done"), (0, "generation", "done"), (1, "imitation", "done")]
    expected = _store_numbers(project / "lion.db")
    assert _shown_numbers(snap) == {k: v for k, v in expected.items() if k not in ("last_event", "spent")}
    assert snap.spent_usd == pytest.approx(expected["spent"]) and snap.spent_usd > 0
    assert snap.projected_total_usd == pytest.approx(snap.spent_usd)   # nothing left to pay for
    assert str(expected["last_event"]) in log_text     # the log pane tailed the events to the end


async def _watch(pilot: Pilot, app: LionDashboard, proc: object) -> int:
    """Let the dashboard refresh until the run exits; the number of refreshes it showed meanwhile."""
    start, deadline = app.refreshes, time.monotonic() + RUN_TIMEOUT_S
    while proc.poll() is None:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "lion run did not finish"
        await pilot.pause(0.1)
    return app.refreshes - start


async def _until(pilot: Pilot, cond: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        await pilot.pause(0.02)
