"""`lion rerun`: a finished discrimination done again repeats the referee's requests only when the referee
changed (the request cache answers an unchanged one) and never the teacher's; what it refuses (no
--yes without a terminal, a bad iteration or stage, a live run) leaves the project as it was.
One project, a real scripted server and real `lion` subprocesses; the student's answers are rows
(no student is trained)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.types import Stage
from lion_cli.pipeline.context import LoopContext
from lion_cli.server.process import running_server
from lion_cli.store.progress import finish_stage
from tests.loop_helpers import lion, server_stats
from tests.test_item_failures import in_process, make_failing_project, teacher_step, write_student_answers


def imitation_done(ctx: LoopContext) -> Any:
    write_student_answers(ctx)
    finish_stage(ctx.store, 0, Stage.IMITATION, {})
    return asyncio.sleep(0)


def count(project: Path, sql: str) -> int:
    conn = sqlite3.connect(project / "lion.db")
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def served(url: str) -> dict[str, int]:
    return dict(server_stats(url)["by_role"])


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[tuple[Path, str]]:
    """A project whose iteration 0 discrimination is done (6 seeds, 12 referee pairs), and its server."""
    root = tmp_path_factory.mktemp("rerun")
    with running_server(backend="scripted", bad_reply_rate=0.0) as url:
        project = make_failing_project(root, url, tiny_model_dir)
        in_process(project, teacher_step)
        in_process(project, imitation_done)
        done = lion("run", str(project), "--until", "discrimination")
        assert done.returncode == 0, done.stderr[-3000:]
        assert count(project, "SELECT COUNT(*) FROM labels WHERE iteration=0") == 6
        yield project, url


def test_refusals_change_nothing(judged: tuple[Path, str]) -> None:
    from lion_cli.store.db import open_store
    from lion_cli.store.lock import acquire

    project, _ = judged
    verdicts = count(project, "SELECT COUNT(*) FROM judgements")
    no_tty = lion("rerun", str(project), "--iteration", "0", "--stage", "discrimination")   # stdin is not a tty
    assert no_tty.returncode == 2 and "--yes" in no_tty.stderr
    for bad, says in ((["--iteration", "5", "--stage", "discrimination"], "no iteration 5"),
                      (["--iteration", "0", "--stage", "teacher"], "expected imitation"),
                      (["--iteration", "0", "--stage", "generation"], "has not run yet")):
        out = lion("rerun", str(project), *bad, "--yes")
        assert out.returncode == 2 and says in out.stderr, out.stderr
    with open_store(project / "lion.db") as store:
        lock = acquire(store)   # this process, alive: a live run
        try:
            busy = lion("rerun", str(project), "--iteration", "0", "--stage", "discrimination", "--yes")
        finally:
            lock.release()
    assert busy.returncode == 4 and "another `lion run`" in busy.stderr
    assert count(project, "SELECT COUNT(*) FROM judgements") == verdicts


def rerun_discrimination(project: Path, url: str) -> dict[str, int]:
    """rerun + run to the end of discrimination again; the requests the server served meanwhile, per role."""
    before = served(url)
    out = lion("rerun", str(project), "--iteration", "0", "--stage", "discrimination", "--yes")
    assert out.returncode == 0, out.stderr
    assert "12 referee verdicts" in out.stderr and "6 teacher answers" in out.stderr
    assert count(project, "SELECT COUNT(*) FROM judgements") == 0
    assert count(project, "SELECT COUNT(*) FROM labels") == 0
    again = lion("run", str(project), "--until", "discrimination")
    assert again.returncode == 0, again.stderr[-3000:]
    after = served(url)
    return {role: after.get(role, 0) - before.get(role, 0) for role in set(after) | set(before)}


def test_rerun_discrimination_asks_a_new_referee_and_never_the_teacher(judged: tuple[Path, str]) -> None:
    project, url = judged
    labels = count(project, "SELECT COUNT(*) FROM labels WHERE label != 'unscored'")
    # The same referee: every verdict comes back from the request cache; nothing is sent.
    same = rerun_discrimination(project, url)
    assert all(n == 0 for n in same.values()), same
    assert count(project, "SELECT COUNT(*) FROM labels WHERE label != 'unscored'") == labels
    # A new referee model: the old verdicts are not reused, the teacher's answers are.
    toml = project / "lion.toml"
    text = toml.read_text(encoding="utf-8")
    start = text.index("[referee]")
    toml.write_text(text[:start] + text[start:].replace('model = "scripted"', 'model = "scripted-referee-2"', 1),
                    encoding="utf-8")
    new = rerun_discrimination(project, url)
    assert new.get("teacher", 0) == 0 and new.get("generator", 0) == 0
    assert new["referee"] >= 12, new   # both orders of the 6 (and the new model's structured-replies probe)
    assert count(project, "SELECT COUNT(*) FROM judgements WHERE referee_model = 'scripted-referee-2'") >= 12
    assert count(project, "SELECT COUNT(*) FROM judgements WHERE referee_model != 'scripted-referee-2'") == 0


def test_rerun_imitation_drops_the_student_and_keeps_the_teacher(judged: tuple[Path, str]) -> None:
    project, _ = judged
    answers = project / "students" / "iter-0" / "answers" / "output.jsonl.parts"
    answers.mkdir(parents=True, exist_ok=True)   # a generation job's finished rows: not for a new student
    # A finished DPO run's detail names the SFT student by its path, which the retrained one shares.
    runs = [project / "students" / "iter-0" / name for name in ("preference", "online-1", "online-2")]
    for run in runs:
        run.mkdir(parents=True, exist_ok=True)
        (run / "preference.json").write_text('{"sft_student": "students/iter-0/final"}\n', encoding="utf-8")
    out = lion("rerun", str(project), "--iteration", "0", "--stage", "imitation", "--yes")
    assert out.returncode == 0, out.stderr
    assert count(project, "SELECT COUNT(*) FROM responses WHERE role='student'") == 0
    assert count(project, "SELECT COUNT(*) FROM responses WHERE role='teacher'") == 6
    assert count(project, "SELECT COUNT(*) FROM judgements") == 0
    assert count(project, "SELECT COUNT(*) FROM stages WHERE iteration=0 AND status != 'pending'") == 0
    assert not answers.parent.exists()
    assert not any(run.exists() for run in runs)


def test_rerun_drops_online_samples_of_retrained_students_and_dropped_instructions(tmp_path: Path) -> None:
    """Online DPO's rows reference instructions: a rerun that drops generated instructions drops their
    samples and verdicts first (foreign keys are on), and a retrained student's samples go with it."""
    from lion_cli.cli.init import init_project
    from lion_cli.core.types import Order
    from lion_cli.store.db import open_store
    from lion_cli.store.online_samples import OnlineSample, SampleVerdict, save_sample_verdict, save_samples
    from lion_cli.store.pools import add_instruction
    from lion_cli.store.rerun import drop_for_rerun, rerun_counts, rerun_scope

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Name a river.\nName a bird.\n", encoding="utf-8")
    init_project(tmp_path / "p", seeds)

    def fill(store: Any) -> None:
        from lion_cli.core.types import Origin
        from lion_cli.store.progress import ensure_iteration

        for k in (1, 2):
            ensure_iteration(store, k)
        with store.tx():
            made = add_instruction(store, "Name a hard river.", "", Origin.HARD, 1)
        for iteration, iid in ((0, 1), (1, 1), (2, made)):  # iteration 2's online prompt: a generated one
            save_samples(store, iteration, 1, "s", [OnlineSample(iid, 0, 0, "an answer")])
            save_sample_verdict(store, iteration, 1, SampleVerdict(iid, 0, Order.TEACHER_FIRST, 0, 7.0, None),
                                "referee", "7 7", 7.0)

    def online(store: Any) -> list[tuple[int, int]]:
        return sorted((r[0], r[1]) for r in store.query("SELECT iteration, instruction_id FROM online_samples"))

    with open_store(tmp_path / "p" / "lion.db") as store:
        fill(store)
        scope = rerun_scope(store, 1, Stage.GENERATION)   # drops iteration 2 and the instruction made for it
        assert rerun_counts(store, scope)["online DPO samples"] == 1
        drop_for_rerun(store, scope)
        assert online(store) == [(0, 1), (1, 1)]          # iteration 1's student stays: its samples too
        assert store.scalar("SELECT COUNT(*) FROM online_scores") == 2
        drop_for_rerun(store, rerun_scope(store, 1, Stage.IMITATION))
        assert online(store) == [(0, 1)]
        assert store.scalar("SELECT COUNT(*) FROM online_scores") == 1
