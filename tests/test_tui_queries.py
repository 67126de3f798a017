"""The dashboard's reads on known stores: every number a panel shows, incremental updates,
read-only access."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from tui_fixtures import CLOCK, DEAD_PID, build_empty_project, build_known_project

from lion_cli.cli.common import project_plan
from lion_cli.store.db import open_store
from lion_cli.tui.queries import DashboardReader


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return build_known_project(tmp_path / "proj")


def test_known_store_numbers(known: Path) -> None:
    snap = DashboardReader(known, clock=lambda: CLOCK).refresh()
    assert (snap.project, snap.run_status, snap.iterations_planned, snap.iteration) == ("fixture-lion", "running", 3, 1)
    assert snap.stage is not None and (snap.stage.stage, snap.stage.step, snap.stage.done, snap.stage.total) == (
        "discrimination", "referee", 6, 24)
    assert snap.elapsed_s == 1800.0
    t, r, g = snap.roles["teacher"], snap.roles["referee"], snap.roles["generator"]
    assert (t.calls, t.rate_limited, t.retries, t.prompt_tokens, t.completion_tokens) == (12, 2, 3, 1200, 2400)
    assert (t.rpm_now, t.tpm_now, t.rpm_limit, t.tpm_limit) == (2, 600, 60, 10000)
    assert (r.calls, g.calls) == (18, 7)
    assert snap.spent_usd == pytest.approx(0.0455)
    assert snap.budget_usd == 5.0 and snap.budget_left_usd == pytest.approx(4.9545)
    # projection (core/projection.py): 1 of 3 iterations done, cache 12, 4 new per iteration,
    # 1/9 referee retry rate, acceptance 4/7
    assert t.remaining_calls == 8    # the next iteration's 4 new instructions, then the final imitation's 4
    assert g.remaining_calls == 14                      # 2 iterations × 4 / (4/7)
    assert r.remaining_calls == round(2 * 12 * (1 + 2 / 16)) + round(2 * 16 * (1 + 2 / 16))   # it1 has no verdicts yet
    assert snap.projected_total_usd == pytest.approx(0.0455 + 8 * 0.002 + r.remaining_calls * 0.001 + 14 * 0.0005)
    [lab] = snap.labels
    assert (lab.iteration, lab.hard, lab.easy, lab.unscored) == (0, 3, 4, 1)
    assert lab.hard_rate == pytest.approx(3 / 7) and lab.order_consistency == pytest.approx(6 / 7)
    assert snap.histogram_iteration == 0 and snap.tau == 1.0
    assert dict(snap.histogram) == {-1.0: 1, -0.5: 1, 0.0: 1, 0.5: 1, 1.5: 2, 3.5: 1}   # the 7 scored gaps
    [gen] = snap.generation
    assert (gen.accepted, gen.rejected) == (4, {"too similar": 2, "too short": 1})
    assert [x.id for x in snap.latest_accepted] == [12, 11, 10, 9]
    assert [x.id for x in snap.latest_hard] == [3, 2, 1]
    assert snap.train is not None and (snap.train.job_id, snap.train.step, snap.train.total_steps) == (2, 10, 10)
    assert snap.train.losses[0] == (1, 1.5) and snap.train.loss == pytest.approx(0.6)
    assert snap.train.tokens_per_s == 1500.0 and snap.checkpoint == "/students/iter-1"
    gen, loglik = snap.evals
    assert (gen.mode, loglik.mode) == ("generate", "loglik")
    assert gen.scores == {"bbh": pytest.approx(32.0), "agieval": pytest.approx(25.0), "vicuna": pytest.approx(91.25)}
    assert gen.tasks["bbh"] == ("date_understanding", "navigate") and gen.tasks["vicuna"] == ("overall",)
    assert loglik.scores == {"bbh": pytest.approx(40.0)}
    assert [e.message for e in snap.new_events][-1] == "it1 discrimination · referee"


def test_incremental_reads_see_rows_from_another_connection(known: Path) -> None:
    reader = DashboardReader(known, clock=lambda: CLOCK)
    first = reader.refresh()
    assert len(first.new_events) == 5
    with open_store(known / "lion.db") as w, w.tx() as c:
        c.execute("INSERT INTO api_calls (ts, role, model, base_url, ok, prompt_tokens, completion_tokens, cost_usd,"
                  " rate_limited) VALUES (?, 'referee', 'gpt-x', 'u', 1, 10, 5, 0.25, 1)", (CLOCK - 5,))
        c.execute("INSERT INTO events (ts, message) VALUES (?, 'new event')", (CLOCK,))
        c.execute("UPDATE stages SET done=12 WHERE iteration=1 AND stage='discrimination'")
        c.execute("INSERT INTO train_metrics (job_id, step, epoch, loss, lr, tokens, tokens_per_s, ts)"
                  " VALUES (2, 11, 1.1, 0.5, 1e-5, 11000, 1600.0, ?)", (CLOCK,))
        c.execute("UPDATE iterations SET status='done' WHERE iteration=1")
        c.execute("INSERT INTO labels VALUES (1, 1, 9, 2, 7, 'hard', 0)")
    snap = reader.refresh()
    assert [e.message for e in snap.new_events] == ["new event"]   # only what is new
    r = snap.roles["referee"]
    assert (r.calls, r.rate_limited, r.rpm_now, r.tpm_now) == (19, 1, 1, 15)
    assert snap.spent_usd == pytest.approx(0.2955)
    assert snap.stages[4].done == 12
    assert snap.train is not None and snap.train.step == 11 and len(snap.train.losses) == 11
    assert [(lc.iteration, lc.hard) for lc in snap.labels] == [(0, 3), (1, 1)]


def test_empty_project_reads_settings_from_lion_toml(tmp_path: Path) -> None:
    # `lion tui` hands the dashboard the plan it loaded from lion.toml (the project has never run)
    d = build_empty_project(tmp_path / "e")
    snap = DashboardReader(d, plan=project_plan(d)).refresh()
    assert (snap.run_status, snap.iteration, snap.stage, snap.stages) == ("never run", 0, None, [])
    assert snap.instructions == 8 and snap.iterations_planned == 3 and snap.tau == 1.0
    assert snap.roles["teacher"].rpm_limit == 3500 and snap.roles["teacher"].calls == 0
    assert snap.spent_usd == 0 and snap.labels == [] and snap.train is None and snap.evals == []
    # before any call the projection prices each request from lion.toml: (200 × in + max_tokens/2 × out) / 1000
    assert snap.roles["teacher"].remaining_calls == 8 + 3 * 6000   # the final imitation answers the last 6000
    assert snap.projected_total_usd is not None and snap.projected_total_usd > 0


def test_run_killed_mid_stage_is_stale(tmp_path: Path) -> None:
    d = build_known_project(tmp_path / "k", run_pid=DEAD_PID)
    snap = DashboardReader(d, clock=lambda: CLOCK).refresh()
    assert snap.run_status == "stale"
    # its stage row still says running; the process is gone, so it shows as interrupted
    assert snap.stage is not None and snap.stage.status == "interrupted" and snap.stage.done < snap.stage.total
    assert snap.eta_s is None   # nothing moves: no ETA
    assert snap.elapsed_s == 1800 - 260   # the clock stopped at its last event, 260 s before CLOCK


def test_eta_from_observed_step_rate(known: Path) -> None:
    now = [CLOCK]
    reader = DashboardReader(known, clock=lambda: now[0])
    reader.refresh()
    with open_store(known / "lion.db") as w:
        w.conn.execute("UPDATE stages SET done=12 WHERE iteration=1 AND stage='discrimination'")
    now[0] += 10.0
    snap = reader.refresh()
    assert snap.eta_s == pytest.approx((24 - 12) / (6 / 10.0))   # 6 items in 10 s, 12 left


def test_reader_never_writes(known: Path) -> None:
    reader = DashboardReader(known)
    reader.refresh()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.store.conn.execute("INSERT INTO events (ts, message) VALUES (1, 'x')")


def test_search_and_detail(known: Path) -> None:
    reader = DashboardReader(known)
    assert [x.id for x in reader.search("three")] == [11, 3]
    assert reader.search("100%") == []                     # LIKE wildcards in the query are literal
    assert [x.id for x in reader.search("", limit=3)] == [12, 11, 10]
    d = reader.instruction(1)
    assert d is not None and d.text == "Write a haiku about the sea."
    assert [(r.role, r.text) for r in d.responses] == [("teacher", "teacher answer 1"),
                                                       ("student", "student answer 1 (it0)")]
    assert [(j.order, j.teacher_score, j.student_score) for j in d.judgements] == [
        ("teacher_first", 9.0, 5.0), ("student_first", 9.0, 6.0)]
    assert d.labels[0]["gap"] == 3.5 and d.labels[0]["label"] == "hard"
    assert reader.instruction(999) is None


def test_refresh_is_fast_on_the_fixture(known: Path) -> None:
    reader = DashboardReader(known)
    reader.refresh()
    t0 = time.perf_counter()
    reader.refresh()
    assert time.perf_counter() - t0 < 0.1


def test_finished_run_projects_nothing_more(known: Path) -> None:
    # the last planned iteration's new instructions are never answered: nothing is left to pay for
    with open_store(known / "lion.db") as w:
        w.conn.execute("UPDATE runs SET status='done', settings_json=json_set(settings_json, '$.loop.iterations', 1)")
        w.conn.execute("INSERT INTO instructions (id, content_hash, text, origin, iteration)"
                       " VALUES (13, 'h13', 'A new instruction nobody answered.', 'hard', 1)")
    snap = DashboardReader(known, clock=lambda: CLOCK).refresh()
    assert snap.instructions > 0 and {u.remaining_calls for u in snap.roles.values()} == {0}
    assert snap.projected_total_usd == pytest.approx(snap.spent_usd)


def test_empty_project_without_a_plan_projects_nothing(tmp_path: Path) -> None:
    snap = DashboardReader(build_empty_project(tmp_path / "e")).refresh()
    assert snap.iterations_planned is None and snap.projected_total_usd is None and snap.api_eta_s is None
    assert snap.roles["teacher"].remaining_calls is None and snap.roles["teacher"].rpm_limit is None
