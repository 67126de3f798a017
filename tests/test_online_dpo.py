"""Online DPO ([preference] online = true) against `lion serve --scripted` in a real subprocess, with the
tiny student: a one-iteration run whose final imitation ends with one online round (k = 2 samples per
hard instruction of iteration 0's discrimination). The run is SIGKILLed while the referee scores the
samples and resumed: no referee request whose reply lion had stored is served again, no sample is
generated again, the pairs are what the stored scores say, and the tuned model is the final student."""

from __future__ import annotations

import json
import signal
import sqlite3
import statistics
import time
from pathlib import Path

import pytest

from tests.loop_helpers import lion, make_project, server_stats, start_lion, wait_for

pytestmark = pytest.mark.slow
REFEREE_CONCURRENCY = 2
ONLINE = ["preference.online=true", 'preference.when="final"', "preference.online_margin=0.0",
          "preference.global_batch_size=2", "preference.per_device_batch_size=2", "preference.max_length=256",
          "preference.lr=1e-4", f"referee.max_concurrency={REFEREE_CONCURRENCY}", "loop.referee_retries=0"]


def pairs_from_stored_scores(db: Path) -> list[tuple[int, str, str]]:
    """(instruction, chosen text, rejected text) recomputed from online_scores by the rule: a sample's
    score is the mean over both orders of each order's first readable verdict (one order alone: no
    score); best (ties: lower sample) vs worst (ties: higher sample) where two samples or more are
    scored; margin 0."""
    conn = sqlite3.connect(db)
    try:
        verdicts = conn.execute("SELECT instruction_id, sample, order_name, sample_score FROM online_scores"
                                " WHERE sample_score IS NOT NULL ORDER BY attempt").fetchall()
        texts = {(i, s): t for i, s, t in conn.execute("SELECT instruction_id, sample, text FROM online_samples")}
    finally:
        conn.close()
    first: dict[tuple[int, int, str], float] = {}
    for iid, s, order, score in verdicts:
        first.setdefault((iid, s, order), score)
    per_sample: dict[tuple[int, int], list[float]] = {}
    for (iid, s, _), score in first.items():
        per_sample.setdefault((iid, s), []).append(score)
    per_prompt: dict[int, list[tuple[float, int]]] = {}
    for (iid, s), scores in per_sample.items():
        if len(scores) == 2:  # a readable verdict in both orders
            per_prompt.setdefault(iid, []).append((statistics.fmean(scores), s))
    out = []
    for iid, ranked in per_prompt.items():
        if len(ranked) >= 2:
            best = sorted(ranked, key=lambda x: (-x[0], x[1]))[0]
            worst = sorted(ranked, key=lambda x: (x[0], -x[1]))[0]
            out.append((iid, texts[iid, best[1]], texts[iid, worst[1]]))
    return sorted(out)


def store_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {"samples": conn.execute("SELECT COUNT(*) FROM online_samples").fetchone()[0],
                "scores": conn.execute("SELECT COUNT(*) FROM online_scores").fetchone()[0]}
    finally:
        conn.close()


def test_online_round_killed_while_scoring_resumes_without_asking_again(tmp_path: Path, tiny_model_dir: Path) -> None:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.01, 0.05)) as url:
        project = make_project(tmp_path, url, tiny_model_dir, iterations=1, new=4, seeds=8, extra=ONLINE)
        db, log = project / "lion.db", tmp_path / "run.log"
        proc = start_lion("run", str(project), log=log)
        wait_for(db, "SELECT COUNT(*) >= 3 FROM online_scores", proc, timeout=600)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        time.sleep(0.5)  # the requests in flight at the kill are answered (into the server's counts) meanwhile
        at_kill, before = server_stats(url), store_counts(db)
        assert at_kill["duplicates"] == 0, at_kill
        done = lion("resume", str(project), timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        after = server_stats(url)
    # A verdict lion had stored is never asked again: only the requests in flight at the kill (at most
    # referee.max_concurrency, their replies never reached the store) may be served a second time.
    assert after["duplicates"] <= REFEREE_CONCURRENCY, after
    assert after["by_role"]["referee"] - at_kill["by_role"]["referee"] <= store_counts(db)["scores"] - before["scores"]
    counts = store_counts(db)
    assert counts["samples"] == before["samples"] > 0  # every sample was made before the kill, none again
    conn = sqlite3.connect(db)
    try:
        hard = conn.execute("SELECT COUNT(*) FROM labels WHERE iteration = 0 AND label = 'hard'").fetchone()[0]
        online_jobs = conn.execute("SELECT COUNT(*) FROM train_jobs WHERE iteration = 1 AND kind = 'generate'"
                                   ).fetchone()[0]
        student = conn.execute("SELECT student_path FROM iterations WHERE iteration = 1").fetchone()[0]
        detail = json.loads(conn.execute("SELECT detail_json FROM stages WHERE iteration = 1 AND stage = 'imitation'"
                                         ).fetchone()[0])
    finally:
        conn.close()
    assert counts["samples"] == 2 * hard and online_jobs == 1
    assert counts["scores"] == 2 * counts["samples"]  # both orders of each sample, one attempt each
    folder = project / "students" / "iter-1" / "online-1"
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((p["instruction_id"], p["chosen"], p["rejected"]) for p in pairs) == pairs_from_stored_scores(db)
    assert pairs and detail["preference"]["online"][0]["pairs"] == len(pairs)
    assert Path(project, student).resolve() == (folder / "final").resolve()


def test_fewer_than_two_samples_is_refused_naming_the_key(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"instruction": "Say hi.", "input": "", "output": "hi"}) + "\n", encoding="utf-8")
    done = lion("init", str(tmp_path / "proj"), "--seed", str(seeds), "--set", "preference.online_samples=1")
    assert done.returncode == 2, done.stderr
    assert "preference.online_samples" in done.stderr and "at least 2" in done.stderr


def test_a_dropped_pair_leaves_every_kept_pair_its_own_reference(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A pair whose prompt alone fills max_length is dropped (an online round's pairs are whatever prompts
    the hard set holds); the stored reference rows are the kept pairs', so step 1, where the policy is
    the reference, has a zero margin."""
    from lion_cli.student.jobs import dpo
    from lion_cli.student.specs import DPOSpec, LaunchConfig

    rows = [{"prompt": "word " * 200, "chosen": "yes.", "rejected": "no."}]
    rows += [{"prompt": f"Name colour {i}.", "chosen": "Blue, the sky's.", "rejected": "no no no."} for i in range(4)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "dpo"
    dpo(DPOSpec(model_path=str(tiny_model_dir), data_path=str(data), output_dir=str(out), global_batch_size=4,
                per_device_batch_size=4, max_length=64, precision="fp32", max_steps=1), LaunchConfig())
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [m["pairs"] for m in lines if m.get("event") == "reference"] == [4]
    first = next(m for m in lines if "step" in m and "event" not in m)
    assert abs(first["margin"]) < 1e-2 and abs(first["rewards_chosen"]) < 1e-2, first


def test_sample_scores_and_best_worst_pairs_follow_the_stated_rule() -> None:
    from lion_cli.core.types import Order
    from lion_cli.pipeline.online_preference import best_worst, sample_scores
    from lion_cli.store.online_samples import SampleVerdict

    tf, sf = Order.TEACHER_FIRST, Order.STUDENT_FIRST
    verdicts = [SampleVerdict(1, 0, tf, 0, None, "unreadable"), SampleVerdict(1, 0, tf, 1, 6.0, None),
                SampleVerdict(1, 0, tf, 2, 1.0, None),  # a later readable reply does not count
                SampleVerdict(1, 0, sf, 0, 8.0, None), SampleVerdict(1, 1, tf, 0, 3.0, None),
                SampleVerdict(1, 1, sf, 0, 5.0, None),
                SampleVerdict(2, 0, tf, 0, 5.0, None), SampleVerdict(2, 0, sf, 0, 5.0, None),
                SampleVerdict(2, 1, tf, 0, 4.0, None), SampleVerdict(2, 1, sf, 0, 6.0, None),  # a tie
                SampleVerdict(3, 0, tf, 0, 9.0, None), SampleVerdict(3, 0, sf, 0, 9.0, None),
                SampleVerdict(3, 1, tf, 0, None, "unreadable"), SampleVerdict(3, 1, sf, 0, 2.0, None),
                SampleVerdict(4, 0, tf, 0, 9.0, None), SampleVerdict(4, 1, sf, 0, 1.0, None)]  # one order each
    scores = sample_scores(verdicts)
    # The first readable verdict of each order, averaged over both orders; a sample without a readable
    # verdict in each order is absent (prompt 3's second sample, both of prompt 4's).
    assert scores == {(1, 0): 7.0, (1, 1): 4.0, (2, 0): 5.0, (2, 1): 5.0, (3, 0): 9.0}
    assert best_worst(scores, 0.0) == [(1, 0, 1, 3.0), (2, 0, 1, 0.0)]  # prompt 3 has one scored sample
    assert best_worst(scores, 3.0) == [(1, 0, 1, 3.0)] and best_worst(scores, 3.5) == []
