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
        (["--iteration", "0", "--model", str(tiny_model_dir)], "at most one of"),
        (["--iteration", "0", "--mode", "guess"], "--mode"),
        (["--iteration", "0", "--limit", "0"], "--limit"),
    ]:
        res = lion_cli("eval", "bbh", "-C", str(root), *args)
        assert res.exit_code == 2 and msg in res.stderr, (args, res.stderr)


def test_in_a_project_the_latest_student_is_the_default(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    root = _project(lion_cli, tmp_path, tiny_model_dir)
    res = lion_cli("eval", "bbh", "-C", str(root), "--tasks", "navigate", "--limit", "2", "--protocol", "lion",
                   "--mode", "loglik", "--json")
    assert res.exit_code == 0, res.stderr
    assert "student-it1" in res.stdout and "student-it0" not in res.stdout
    bare = tmp_path / "bare"
    (tmp_path / "seeds2.txt").write_text("Name a colour.\n", encoding="utf-8")
    assert lion_cli("init", str(bare), "--seed", str(tmp_path / "seeds2.txt")).exit_code == 0
    res = lion_cli("eval", "bbh", "-C", str(bare), "--tasks", "navigate")
    assert res.exit_code == 2 and "no trained student yet" in res.stderr, res.stderr


class CountingBackend(ScriptedBackend):
    """The scripted server, counting the judge's requests that reach it (a cached verdict never does)."""

    judge_requests = 0

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        if role == "judge" and "[Assistant 1]" in str(request.get("messages")):
            type(self).judge_requests += 1
        return await super().complete(request, role)


def _judge_sets(url: str) -> list[str]:
    return [f"judge.base_url={url}", "judge.api_key_env=", "judge.rpm=60000", "judge.tpm=10000000",
            "judge.model=judge"]


def test_vicuna_with_scripted_judge(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    backend = ScriptedBackend(bad_reply_rate=0.0)
    with server_in_thread(build_server(backend)) as url:
        root = _project(lion_cli, tmp_path, tiny_model_dir, *_judge_sets(url))
        res = lion_cli("eval", "vicuna", "-C", str(root), "--iteration", "1", "--limit", "4",
                       "--max-new-tokens", "8", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)["results"][0]
    assert data["judge"] == "judge"
    overall = {r["setting"]: r for r in data["rows"] if r["category"] == "overall"}
    assert set(overall) == {1, 2} and all(r["n"] == 4 and r["unscored"] == 0 for r in overall.values())
    with open_store(root / "lion.db") as store:
        rows = {(r.mode, r.task): r for r in results(store, benchmark="vicuna")}
        assert set(rows) == {(m, t) for m in ("setting1", "setting2") for t in ("generic", "overall")}
        for mode in ("setting1", "setting2"):
            got = samples(store, rows[mode, "overall"].id)
            # The scripted judge's score of an answer is a function of its text (whatever the order or
            # sample): both settings come to the same ratio, recomputed here by hand.
            s = [backend.score(q.prompt, q.reply) for q in got]
            r = [backend.score(q.prompt, q.target or "") for q in got]
            assert rows[mode, "overall"].accuracy == pytest.approx(sum(s) / sum(r))
            assert overall[int(mode[-1])]["pct"] == pytest.approx(100 * sum(s) / sum(r))
            assert rows[mode, "overall"].detail["reference"].startswith("gpt-3.5-turbo")
            assert rows[mode, "overall"].detail["judge"] == "judge"
        judged = store.scalar("SELECT COUNT(*) FROM api_calls WHERE role='judge' AND cache_key IS NOT NULL")
        assert judged == 4 * (1 + 2 * 3)                 # setting 1: 1 per question; setting 2: 2 orders × k=3
        assert store.scalar("SELECT COUNT(*) FROM api_calls WHERE role='referee'") == 0
        # ...and the one structured-replies probe of the judge's endpoint, recorded like any attempt.
        assert store.scalar("SELECT COUNT(*) FROM api_calls WHERE role='judge' AND cache_key IS NULL") == 1


def test_vicuna_run_again_pays_only_for_new_verdicts(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    CountingBackend.judge_requests = 0
    with server_in_thread(build_server(CountingBackend(bad_reply_rate=0.0))) as url:
        root = _project(lion_cli, tmp_path, tiny_model_dir, *_judge_sets(url), "vicuna.evidence_samples=2")
        args = ["eval", "vicuna", "-C", str(root), "--iteration", "1", "--max-new-tokens", "8", "--setting", "2"]
        first = lion_cli(*args, "--limit", "2")
        assert first.exit_code == 0, first.stderr
        assert CountingBackend.judge_requests == 2 * 2 * 2                 # 2 questions × 2 orders × k=2
        again = lion_cli(*args, "--limit", "3")                        # as a resume after a kill would
        assert again.exit_code == 0, again.stderr
        assert CountingBackend.judge_requests == 8 + 1 * 2 * 2             # only the third question is paid
        assert "setting 2" in again.stdout and "setting 1 (" not in again.stdout
