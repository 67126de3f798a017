"""`lion eval` end to end on the tiny model: the real student engine subprocesses, results stored in
the project's store and printed beside the paper; Vicuna judged by a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lion_cli.server.app import build_server
from lion_cli.server.runner import server_in_thread
from lion_cli.server.scripted import ScriptedBackend
from lion_cli.store.db import open_store
from lion_cli.store.evals import results, samples

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def _project(lion_cli: Any, tmp_path: Path, tiny: Path, *sets: str) -> Path:
    seed = tmp_path / "seeds.txt"
    seed.write_text("Name a colour.\nCount to three.\n", encoding="utf-8")
    args = ["init", str(tmp_path / "p"), "--seed", str(seed), "--set", "student.launcher=python",
            "--set", f"project.data_dir={DATA}"]
    for s in sets:
        args += ["--set", s]
    assert lion_cli(*args).exit_code == 0
    root = tmp_path / "p"
    with open_store(root / "lion.db") as store, store.tx() as c:
        # Two "trained" students: iteration 0 and 1 (copies of the tiny model).
        for it in (0, 1):
            shutil.copytree(tiny, root / "students" / f"iter-{it}")
            c.execute("INSERT OR IGNORE INTO iterations (iteration) VALUES (?)", (it,))
            c.execute("UPDATE iterations SET student_path=? WHERE iteration=?",
                      (str(root / "students" / f"iter-{it}"), it))
    return root


def test_bbh_all_iterations_loglik_stored_and_printed(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    root = _project(lion_cli, tmp_path, tiny_model_dir)
    res = lion_cli("eval", "bbh", "-C", str(root), "--all-iterations", "--tasks", "navigate,snarks",
                   "--limit", "3", "--protocol", "lion", "--mode", "loglik")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "BBH — student-it0" in out and "BBH — student-it1" in out and "loglik (norm.)" in out
    assert "navigate" in out and "49.2" in out and "learning curve" in out    # paper's Lion-7B navigate
    with open_store(root / "lion.db") as store:
        rows = results(store, benchmark="bbh")
        assert [(r.iteration, r.task, r.mode, r.n) for r in rows] == [
            (0, "navigate", "loglik", 3), (0, "snarks", "loglik", 3),
            (1, "navigate", "loglik", 3), (1, "snarks", "loglik", 3)]
        # Same weights → same picks in both iterations.
        assert rows[0].accuracy == rows[2].accuracy and rows[0].detail["limit"] == 3
        got = samples(store, rows[0].id)
        assert len(got) == 3 and got[0].prompt.endswith("Answer with the text of the correct option.")
        assert got[0].extracted in ("A", "B") and "mean log-prob per token" in got[0].reply
    # The work files of the run sit in the project, for inspection.
    assert (root / "evals" / "student-it0" / "bbh" / "score-output.jsonl").exists()


def test_bad_inputs_exit_2(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    root = _project(lion_cli, tmp_path, tiny_model_dir)
    for args, msg in [
        (["--iteration", "0", "--tasks", "navigat"], "unknown bbh task"),
        (["--iteration", "7"], "no trained student for iteration 7"),
        (["--iteration", "0", "--model", str(tiny_model_dir)], "exactly one of"),
        (["--iteration", "0", "--mode", "guess"], "--mode"),
        (["--iteration", "0", "--limit", "0"], "--limit"),
    ]:
        res = lion_cli("eval", "bbh", "-C", str(root), *args)
        assert res.exit_code == 2 and msg in res.stderr, (args, res.stderr)


def test_vicuna_with_scripted_judge(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    backend = ScriptedBackend(bad_reply_rate=0.0)
    with server_in_thread(build_server(backend)) as url:
        root = _project(lion_cli, tmp_path, tiny_model_dir, f"referee.base_url={url}", "referee.api_key_env=",
                        "referee.rpm=60000", "referee.tpm=10000000", "referee.model=judge")
        res = lion_cli("eval", "vicuna", "-C", str(root), "--iteration", "1", "--limit", "4",
                       "--max-new-tokens", "8", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)["results"][0]
    overall = data["rows"][-1]
    assert overall["category"] == "overall" and overall["n"] == 4 and overall["unscored"] == 0
    with open_store(root / "lion.db") as store:
        rows = {r.task: r for r in results(store, benchmark="vicuna")}
        assert set(rows) == {"generic", "overall"} and rows["overall"].iteration == 1
        got = samples(store, rows["overall"].id)
        # The scripted judge's score of an answer is a function of its text: recompute by hand.
        s = [backend.score(q.prompt, q.reply) for q in got]
        r = [backend.score(q.prompt, q.target or "") for q in got]
        assert rows["overall"].accuracy == pytest.approx(sum(s) / sum(r))
        assert overall["mean_pct"] == pytest.approx(100 * sum(s) / sum(r))
        assert rows["overall"].detail["reference"].startswith("gpt-3.5-turbo")
        judged = store.scalar("SELECT COUNT(*) FROM api_calls WHERE role='referee' AND cache_key IS NOT NULL")
        assert judged == 8                                         # 4 questions × 2 orders, logged
        # ...and the one structured-replies probe of the judge's endpoint, recorded like any attempt.
        assert store.scalar("SELECT COUNT(*) FROM api_calls WHERE role='referee' AND cache_key IS NULL") == 1
