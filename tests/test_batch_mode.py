"""Batch mode end to end: `lion run` subprocesses with the teacher and the referee sending through the batch API
of a real `lion serve --scripted` subprocess.

- killed with SIGKILL in each batch phase (upload, validating, in progress, download) and resumed: the same
  result, and the server's counts show no line served twice;
- through a refused upload (retried), failed lines and expired batches (their lines sent again in the next
  batch, or online): the same pools, labels and accepted instructions as the online run, no line served twice,
  each teacher answer paid once at the batch price.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.loop_helpers import PRICED, kill_at_each, lion, make_project, server_stats, snapshot

pytestmark = pytest.mark.slow
SMALL = {"iterations": 1, "new": 4, "seeds": 8}
BATCH = [f"{role}.{key}" for role in ("teacher", "referee")
         for key in ("mode=batch", "batch_poll_s=0.05", "max_retries=3")]


def project_for(root: Path, url: str, student: Path, extra: list[str]) -> Path:
    return make_project(root, url, student, extra=[*PRICED, *extra], **SMALL)  # type: ignore[arg-type]


def spend_by_role(project: Path) -> dict[str, float]:
    with sqlite3.connect(project / "lion.db") as conn:
        # The answers' cost (a structured-replies probe, cache_key '', is online in either mode).
        return dict(conn.execute("SELECT role, SUM(cost_usd) FROM api_calls WHERE cache_key != '' GROUP BY role"))


def batches(project: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(project / "lion.db") as conn:
        return [tuple(r) for r in conn.execute("SELECT role, status FROM provider_batches ORDER BY updated_at")]


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted") as url:
        project = project_for(tmp_path_factory.mktemp("online"), url, tiny_model_dir, [])
        done = lion("run", str(project))
        assert done.returncode == 0, done.stderr[-3000:]
    return {"snapshot": snapshot(project), "spend": spend_by_role(project)}


UNREAD = ("SELECT COUNT(*) FROM provider_batches b WHERE b.status = 'completed' AND b.chunk_key NOT IN"
          " (SELECT chunk_key FROM provider_batch_reads)")
KILL_POINTS = [
    ("upload", "SELECT COUNT(*) FROM provider_batches"),
    ("validating", "SELECT COUNT(*) FROM provider_batches WHERE status = 'validating'"),
    ("in progress", "SELECT COUNT(*) FROM provider_batches WHERE status = 'in_progress'"),
    ("download", UNREAD),
]


def test_kill_in_each_batch_phase_then_resume(online: dict[str, Any], tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", batch="delay_s=0.4,content_delay_s=0.6") as url:
        project = project_for(tmp_path, url, tiny_model_dir, BATCH)
        db = project / "lion.db"
        kill_at_each(project, KILL_POINTS, tmp_path / "run.log")
        done = lion("resume", str(project))
        assert done.returncode == 0, done.stderr[-3000:]
        stats = server_stats(url)
    assert snapshot(project) == online["snapshot"]
    assert stats["duplicates"] == 0, stats
    with sqlite3.connect(db) as conn:  # every batch left by a killed run was read by the next one
        assert conn.execute(UNREAD.replace("b.status = 'completed' AND ", "")).fetchone()[0] == 0


def test_batch_mode_gives_the_online_result_through_a_failed_upload_failed_lines_and_expired_batches(
        online: dict[str, Any], tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    faults = "delay_s=0.05,fail_uploads=1,fail_line_rate=0.2,expire_after=5,seed=3"
    with running_server(backend="scripted", batch=faults) as url:
        # The teacher's failed lines go into its next batch, the referee's online. Which line fails depends on
        # its custom_id (request keys differ from run to run): with 3 retries a line failing 4 times in a row
        # at 20 % happens in about 1 run in 80; 10 retries leave about 1 in 10 million.
        project = project_for(tmp_path, url, tiny_model_dir, [*BATCH, "referee.batch_resend=online",
                                                              "teacher.max_retries=10", "referee.max_retries=10"])
        done = lion("run", str(project))
        assert done.returncode == 0, done.stderr[-3000:]
        stats = server_stats(url)
    shown = json.loads(lion("status", str(project), "--json").stdout)["batches"]
    assert snapshot(project) == online["snapshot"]
    # `lion status` shows every batch, each read by the run.
    assert {(b["role"], b["status"], b["read"]) for b in shown} == {(r, status, True) for r, status in batches(project)}
    assert stats["batch"]["uploads_refused"] == 1 and stats["batch"]["lines_served"] > 0, stats
    assert stats["duplicates"] == 0, stats
    statuses = batches(project)
    # A batch expires once 5 of its lines are served: the referee's (every verdict of the stage in one batch)
    # always does; the teacher's do when they gather more than 5 lines, which depends on timing.
    assert ("referee", "expired") in statuses, statuses
    assert [status for role, status in statuses if role == "teacher"][-1] == "completed", statuses
    spend = spend_by_role(project)
    # Each teacher line paid once, at the batch price (half the online one); the generator stayed online.
    assert spend["teacher"] == pytest.approx(online["spend"]["teacher"] / 2, rel=1e-9), (spend, online["spend"])
    assert spend["generator"] == pytest.approx(online["spend"]["generator"], rel=1e-9)
    assert online["spend"]["referee"] / 2 < spend["referee"] < online["spend"]["referee"]
