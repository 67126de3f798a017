"""The adversarial loop end to end on real parts: `lion` subprocesses, the loopback scripted server,
a tiny student trained and sampled by real subprocesses, one SQLite file.

- two iterations: the pools follow the replace/accumulate rule, no paid request is served twice;
- killed with SIGKILL during each stage in turn and resumed: the same pools, labels and accepted
  instructions as the uninterrupted run, and at most `max_concurrency` requests served twice;
- against a server injecting 429s, 5xx, dropped connections, malformed bodies and timeouts: the same.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.loop_helpers import PRICED, kill_at_each, lion, make_project, server_stats, snapshot, start_lion, wait_for

pytestmark = pytest.mark.slow
CONCURRENCY = 8  # demo_overrides sets every role's max_concurrency to 8


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:
    from lion_cli.server.process import running_server

    root = tmp_path_factory.mktemp("baseline")
    with running_server(backend="scripted", latency=(0.0, 0.02)) as url:
        project = make_project(root, url, tiny_model_dir, extra=PRICED)
        done = lion("run", str(project))
        assert done.returncode == 0, done.stderr[-3000:]
        stats = server_stats(url)
    return {"project": project, "snapshot": snapshot(project), "stats": stats, "stderr": done.stderr}


def test_two_iterations_follow_the_pool_rules(baseline: dict[str, Any]) -> None:
    snap = baseline["snapshot"]
    pools = snap["pools"]
    new0 = sorted(f"{t}|" for it, _slot, _k, t in snap["accepted"] if it == 0)
    new1 = sorted(f"{t}|" for it, _slot, _k, t in snap["accepted"] if it == 1)
    assert len(new0) == 8 and len(new1) == 8
    # Iteration 0 starts from the seeds in both pools.
    assert pools["0:train"] == pools["0:cache"] and len(pools["0:train"]) == 24
    # The new instructions replace the Train Pool and are added to the Cache Pool.
    assert pools["1:train"] == new0
    assert pools["1:cache"] == sorted(pools["0:cache"] + new0)
    assert pools["2:train"] == new1
    assert pools["2:cache"] == sorted(pools["1:cache"] + new1)
    # Both iterations labelled their whole Cache Pool; hard and easy both occur with the scripted referee.
    by_it = {it: [lab for i, _t, lab, _g in snap["labels"] if i == it] for it in (0, 1)}
    assert len(by_it[0]) == 24 and len(by_it[1]) == 32
    assert {"hard", "easy"} <= set(by_it[0])
    # No paid request was made twice: the server saw every distinct request once.
    assert baseline["stats"]["duplicates"] == 0, baseline["stats"]


def test_status_reports_the_finished_run(baseline: dict[str, Any]) -> None:
    import json

    out = lion("status", str(baseline["project"]), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["finished"] is True
    assert [i["iteration"] for i in data["per_iteration"]][:2] == [0, 1]
    teacher = data["api"]["teacher"]
    assert teacher["calls"] >= 24 + 8
    assert data["spent_usd"] > 0 and data["projected_total_usd"] == pytest.approx(data["spent_usd"])


def test_the_final_imitation_trains_on_seeds_and_every_iteration_s_new(baseline: dict[str, Any]) -> None:
    """The paper's 70K in small: after the last generation stage, one more training job, on the 24
    seeds plus 2 iterations × 8 new instructions, shown by `lion status`."""
    import json
    import sqlite3

    conn = sqlite3.connect(baseline["project"] / "lion.db")
    try:
        jobs = conn.execute("SELECT iteration, spec_json FROM train_jobs WHERE kind='train' ORDER BY id").fetchall()
        stages = conn.execute("SELECT stage, status FROM stages WHERE iteration=2").fetchall()
    finally:
        conn.close()
    assert [it for it, _ in jobs] == [0, 1, 2]
    data = baseline["project"] / json.loads(jobs[-1][1])["data_path"]   # relative to the project
    assert len(data.read_text(encoding="utf-8").splitlines()) == 24 + 2 * 8
    assert stages == [("imitation", "done")]   # the final iteration has that stage only
    out = lion("status", str(baseline["project"]), "--json")
    final = json.loads(out.stdout)["final_imitation"]
    assert final == {"iteration": 2, "status": "done", "train_examples": 40, "trained": True}
    text = lion("status", str(baseline["project"])).stdout
    assert "final imitation (iteration 2): done, trained on 40 examples" in text


KILL_POINTS = [
    # Row counts, not the progress rows: progress is written in steps and a fast stage can skip past them.
    ("imitation", "SELECT COUNT(*) >= 5 FROM responses WHERE role='teacher'"),
    ("imitation-train", "SELECT 1 FROM train_jobs WHERE iteration=0 AND kind='train'"),
    ("discrimination", "SELECT COUNT(*) >= 6 FROM judgements WHERE iteration=0"),
    ("generation", "SELECT COUNT(*) >= 3 FROM candidates WHERE iteration=0"),
    ("iteration-1", "SELECT COUNT(*) >= 4 FROM judgements WHERE iteration=1"),
]


def test_kill_in_every_stage_then_resume(baseline: dict[str, Any], tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.02, 0.08)) as url:
        project = make_project(tmp_path, url, tiny_model_dir)
        kill_at_each(project, KILL_POINTS, tmp_path / "run.log")
        done = lion("resume", str(project))
        assert done.returncode == 0, done.stderr[-3000:]
        assert "took over the lock" in done.stderr  # the killed run's lock was stale and taken over
        stats = server_stats(url)
    assert snapshot(project) == baseline["snapshot"]
    # A killed run loses at most the requests it had in flight.
    assert stats["duplicates"] <= CONCURRENCY * len(KILL_POINTS), stats


def test_faults_do_not_change_the_result(baseline: dict[str, Any], tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    faults = {"rate_429": 0.05, "rate_500": 0.04, "rate_503": 0.03, "rate_drop": 0.03, "rate_malformed": 0.03,
              "rate_timeout": 0.02, "rate_empty_choices": 0.02, "fault_seed": 7}
    with running_server(backend="scripted", latency=(0.0, 0.02), **faults) as url:
        project = make_project(tmp_path, url, tiny_model_dir, extra=[
            f"{r}.timeout_s=2.0" for r in ("teacher", "referee", "generator")])
        done = lion("run", str(project))
        assert done.returncode == 0, done.stderr[-3000:]
        stats = server_stats(url)
    assert stats["faults"] > 10, stats  # the faults really happened
    assert snapshot(project) == baseline["snapshot"]


def test_second_run_is_refused_while_one_is_live(baseline: dict[str, Any], tmp_path: Path,
                                                 tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.2, 0.3)) as url:
        project = make_project(tmp_path, url, tiny_model_dir, iterations=1)
        first = start_lion("run", str(project), log=tmp_path / "first.log")
        try:
            wait_for(project / "lion.db", "SELECT 1 FROM run_lock", first)
            second = lion("run", str(project), timeout=60)
            assert second.returncode == 4
            assert "another `lion run`" in second.stderr and str(first.pid) in second.stderr
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=60)
    # SIGTERM is a clean stop: the run is marked interrupted and the lock is released.
    import sqlite3

    conn = sqlite3.connect(project / "lion.db")
    assert conn.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0] == "interrupted"
    assert conn.execute("SELECT COUNT(*) FROM run_lock").fetchone()[0] == 0
