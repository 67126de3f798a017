"""One place per number: on the same store, `lion status --json` and the dashboard's API panel give
the same spent, projected and ETA figures, the same whole-run ETA and the same limiter accounting
(fresh, mid-run and finished projects); a fresh project's projection is the endpoint prices × the
assumed request size, not 0; the whole-run ETA adds training and student answers at their measured
rates; the limiter's reservations (not the tokens used) say how many requests a minute TPM allows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tui_fixtures import CLOCK, build_empty_project, build_known_project, screen_text

from lion_cli.cli.common import project_plan
from lion_cli.core.projection import project
from lion_cli.core.totals import ASSUMED_PROMPT_TOKENS, RoleTotals, RunTotals, plan_from_settings
from lion_cli.store.db import open_store
from lion_cli.store.totals import TotalsReader, read_totals
from lion_cli.tui.queries import DashboardReader


def _finished(tmp_path: Path) -> Path:
    """The known project with its run over: lion.toml plans the 2 iterations it has, both done, and the
    final imitation after them (iteration 2)."""
    d = build_known_project(tmp_path / "done", run_status="done")
    toml = d / "lion.toml"
    toml.write_text(toml.read_text().replace("iterations = 3 ", "iterations = 2 ", 1))
    with open_store(d / "lion.db") as w, w.tx() as c:
        c.execute("UPDATE iterations SET status='done'")
        c.execute("UPDATE stages SET status='done', done=total")
        c.execute("INSERT INTO iterations (iteration, status) VALUES (2, 'done')")
        c.execute("INSERT INTO stages (iteration, stage, status) VALUES (2, 'imitation', 'done')")
    return d


SCENARIOS = {"fresh": lambda p: build_empty_project(p / "fresh"), "mid-run": lambda p: build_known_project(p / "mid"),
             "finished": _finished}


@pytest.fixture(autouse=True)
def status_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lion status` reads "the last minute" at the fixtures' frozen clock, as the dashboard does."""
    import types

    import lion_cli.cli.status

    monkeypatch.setattr(lion_cli.cli.status, "time", types.SimpleNamespace(time=lambda: CLOCK))


def _status(lion_cli: Any, d: Path) -> dict[str, Any]:
    result = lion_cli("status", str(d), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_status_and_dashboard_agree(scenario: str, tmp_path: Path, lion_cli: Any) -> None:
    d = SCENARIOS[scenario](tmp_path)
    status = _status(lion_cli, d)
    snap = DashboardReader(d, clock=lambda: CLOCK, plan=project_plan(d)).refresh()   # as `lion tui` reads it
    assert snap.spent_usd == status["spent_usd"]
    assert snap.projected_total_usd == status["projected_total_usd"]
    assert snap.api_eta_s == status["api_eta_s"]
    assert {r: u.remaining_calls for r, u in snap.roles.items()} == status["projected_remaining_calls"]
    assert {r: u.calls for r, u in snap.roles.items() if u.calls} == {r: u["calls"] for r, u in status["api"].items()}
    assert snap.run_eta is not None and snap.run_eta.seconds == status["eta"]["seconds"]
    assert (snap.run_eta.complete, snap.run_eta.basis) == (status["eta"]["complete"], status["eta"]["basis"])
    for role, lim in status["limits"].items():
        u = snap.roles[role]
        assert (u.reserved_per_request, u.max_per_minute, u.advice) == (
            lim["reserved_per_request"], lim["max_requests_per_min"], lim["advice"])
        assert (u.rpm_now, u.tpm_now, u.reserved_now) == (
            lim["last_minute"]["requests"], lim["last_minute"]["tokens_used"], lim["last_minute"]["tokens_reserved"])
    if scenario == "finished":
        assert status["finished"] and status["projected_total_usd"] == status["spent_usd"] > 0
    else:
        assert status["projected_total_usd"] > status["spent_usd"] and status["api_eta_s"] > 0


async def test_the_api_panel_shows_the_status_figures(tmp_path: Path, lion_cli: Any) -> None:
    from lion_cli.tui.app import LionDashboard

    d = build_known_project(tmp_path / "mid")
    status = _status(lion_cli, d)
    app = LionDashboard(d, clock=lambda: CLOCK, refresh_s=None, plan=project_plan(d))
    async with app.run_test(size=(140, 45)) as pilot:
        while app.refreshes < 1:
            await pilot.pause(0.02)
        await pilot.pause()
        text = screen_text(app)
    assert f"spent ${status['spent_usd']:,.4f}" in text
    assert f"projected total ${status['projected_total_usd']:,.4f}" in text
    assert re.search(r"API ETA \d+:\d\d:\d\d", text)


def test_fresh_projection_is_prices_times_expected_tokens(tmp_path: Path, lion_cli: Any) -> None:
    d = build_empty_project(tmp_path / "fresh")
    status = _status(lion_cli, d)
    plan = project_plan(d)
    assert plan is not None and status["spent_usd"] == 0
    expected = 0.0
    for role, n in status["projected_remaining_calls"].items():
        ep = plan.endpoints[role]
        per_call = (ASSUMED_PROMPT_TOKENS * ep.price_input_per_1k + ep.max_tokens / 2 * ep.price_output_per_1k) / 1000
        assert status["projected_cost_per_call"][role] == pytest.approx(per_call)
        expected += n * per_call
    # lion.toml: 3 iterations × 6,000 new per iteration over 8 seeds, the last 6,000 for the final imitation
    assert status["projected_remaining_calls"]["teacher"] == 8 + 3 * 6000
    assert status["projected_total_usd"] == pytest.approx(expected) and expected > 0


def test_incremental_reads_equal_a_fresh_read(tmp_path: Path) -> None:
    d = build_known_project(tmp_path / "k")
    reader = TotalsReader()
    with open_store(d / "lion.db", readonly=True) as r, r.read():
        reader.read(r)
    with open_store(d / "lion.db") as w, w.tx() as c:   # the run goes on: iteration 1's verdicts and candidates
        c.execute("INSERT INTO judgements (instruction_id, iteration, order_name, referee_model, raw_text,"
                  " teacher_score, student_score) VALUES (9, 1, 'teacher_first', 'gpt-x', '8 6', 8, 6)")
        c.execute("INSERT INTO candidates (iteration, slot, kind, seed_instruction_id, raw_text, text, accepted)"
                  " VALUES (1, 0, 'hard', 1, 'x', 'x', 1)")
        c.execute("INSERT INTO api_calls (ts, role, model, base_url, ok, cost_usd) VALUES (?, 'referee', 'm', 'u', 1,"
                  " 0.5)", (CLOCK,))
        c.execute("UPDATE iterations SET status='done' WHERE iteration=1")
    with open_store(d / "lion.db", readonly=True) as r, r.read():
        again = reader.read(r)
        fresh = read_totals(r)
    assert again == fresh
    assert (fresh.iterations_done, fresh.iteration, fresh.generated, fresh.accepted) == (2, 2, 8, 5)
    assert fresh.spent_usd == pytest.approx(0.0455 + 0.5)


def test_eta_uses_measured_rates_else_the_limits() -> None:
    plan = plan_from_settings({
        "loop": {"iterations": 1, "new_per_iteration": 10},
        **{r: {"price_input_per_1k": 1.0, "price_output_per_1k": 2.0, "max_tokens": 600, "rpm": 60, "tpm": 6000}
           for r in ("teacher", "referee", "generator")}})
    assert plan is not None
    fresh = RunTotals(cache_size=5, teacher_missing=5)
    p = project(fresh, plan)
    # teacher 5 + the final imitation's 10, referee 10, generator 20 requests; the limiter reserves 200
    # assumed prompt tokens + max_tokens 600 = 800 of tpm 6,000 per request: 7.5 requests/min (8 s each) < rpm 60
    assert p.remaining_calls == {"teacher": 15, "referee": 10, "generator": 20}
    assert p.eta_s == pytest.approx(45 * 8.0) and not p.eta_measured
    measured = RunTotals(cache_size=5, teacher_missing=5, roles={"teacher": RoleTotals(calls=2, cost_usd=1.0)},
                         request_rates={"teacher": 2.0, "referee": 1.0, "generator": 4.0})
    p = project(measured, plan)
    assert p.eta_s == pytest.approx(15 / 2.0 + 10 / 1.0 + 20 / 4.0) and p.eta_measured
    assert p.cost_per_call["teacher"] == 0.5   # observed: $1 over 2 paid requests


def test_the_whole_run_eta_adds_training_and_student_answers(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "mid")   # iteration 1 trained, in its referee step; lion.toml: 3 iterations
    status = _status(lion_cli, d)
    parts = {p["name"]: p for p in status["eta"]["parts"]}
    # iteration 2 trains the base on Train Pools 8 + 4 + 6,000 (new_per_iteration): 6,012 // 128 = 46
    # steps an epoch × 3 epochs = 138 steps; the final imitation on 12,012: 93 × 3 = 279; at the 1.0 s a
    # step both training jobs logged
    assert (parts["training"]["work"], parts["training"]["seconds"]) == (138 + 279, 417.0)
    # iteration 1's student has not answered its Cache Pool of 12 yet, iteration 2's is 12 + 6,000;
    # iteration 0's generation job answered 8 rows in 16 s: 0.5 rows/s
    assert parts["student answers"]["work"] == 6024
    assert parts["student answers"]["seconds"] == pytest.approx(12048.0, abs=0.1)   # SQLite's julianday: ~ms
    assert parts["API"]["seconds"] == status["api_eta_s"] and parts["API"]["basis"] == "measured"
    assert status["eta"]["seconds"] == pytest.approx(status["api_eta_s"] + 417 + 12048, abs=0.1)
    assert status["eta"]["complete"] and status["eta"]["basis"] == "measured"
    text = lion_cli("status", str(d)).stdout
    assert "run ETA: about" in text and "training 0:06:57 (417 steps, measured)" in text


def test_nothing_measured_yet_says_so(tmp_path: Path, lion_cli: Any) -> None:
    d = build_empty_project(tmp_path / "fresh")
    status = _status(lion_cli, d)
    parts = {p["name"]: p for p in status["eta"]["parts"]}
    assert parts["API"]["basis"] == "assumed" and parts["API"]["seconds"] > 0     # at the limits
    assert parts["training"]["seconds"] is None and parts["training"]["basis"] == "not measured yet"
    # three iterations and the final imitation (8 seeds + 3 × 6,000)
    assert parts["training"]["work"] == 3 * (8 // 128 or 1) + 3 * (6008 // 128) + 3 * (12008 // 128) + 3 * (
        18008 // 128)
    assert parts["student answers"]["seconds"] is None and parts["student answers"]["work"] == 8 + 6008 + 12008
    assert not status["eta"]["complete"] and status["eta"]["seconds"] == parts["API"]["seconds"]
    text = lion_cli("status", str(d)).stdout
    assert "run ETA: at least" in text and "training ? (" in text and "not measured yet" in text


def test_the_limiter_accounting_names_max_tokens_as_the_cap(tmp_path: Path, lion_cli: Any) -> None:
    d = build_known_project(tmp_path / "mid")
    status = _status(lion_cli, d)
    teacher = status["limits"]["teacher"]
    # the fixture's teacher calls each reserved 200 + max_tokens 1,024; the last minute had two of them
    assert teacher["reserved_per_request"] == 1224 and teacher["reserved_measured"]
    assert teacher["last_minute"] == {"requests": 2, "tokens_used": 600, "tokens_reserved": 2448}
    assert teacher["tpm_bound"] and teacher["max_requests_per_min"] == pytest.approx(90_000 / 1224)
    assert teacher["advice"] == ("teacher: TPM-bound by max_tokens: each request reserves ~1,224 tokens → at most"
                                 " 73 req/min under tpm 90,000; lower max_tokens or raise tpm")
    text = lion_cli("status", str(d)).stdout
    assert "2,448 reserved of tpm 90,000 (600 used)" in text and teacher["advice"] in text


def test_a_fresh_project_is_told_its_cap_before_the_first_request(tmp_path: Path, lion_cli: Any) -> None:
    status = _status(lion_cli, build_empty_project(tmp_path / "fresh"))
    teacher = status["limits"]["teacher"]
    assert teacher["reserved_per_request"] == ASSUMED_PROMPT_TOKENS + 1024 and not teacher["reserved_measured"]
    assert "(size assumed) → at most 73 req/min under tpm 90,000" in teacher["advice"]
    # the ETA before the first request goes at that cap, not at tpm ÷ (prompt + max_tokens / 2)
    assert status["api_eta_s"] == pytest.approx(status["projected_remaining_calls"]["teacher"] / (90_000 / 1224) * 60
                                                + sum(n / (90_000 / 712) * 60 for r, n in
                                                      status["projected_remaining_calls"].items() if r != "teacher"))


def test_a_store_older_than_the_new_columns_reads_read_only(tmp_path: Path) -> None:
    """`lion status` and the dashboard open the store read-only, which never migrates: a store made
    before runs.iterations (0004) and api_calls.reserved_tokens (0005) is still read, with nothing
    measured for the reservations and no recorded plan."""
    from lion_cli.store.db import available_migrations, connect, migrate
    from lion_cli.store.progress import last_run_iterations
    from lion_cli.store.totals import last_minute

    db = tmp_path / "old.db"
    conn = connect(db)
    migrate(conn, [m for m in available_migrations() if m.name < "0004"])
    conn.execute("INSERT INTO runs (settings_json, lion_version) VALUES ('{\"loop\": {\"iterations\": 2}}', '0.1')")
    conn.execute("INSERT INTO api_calls (ts, role, model, base_url, ok, prompt_tokens) VALUES (?, 'teacher', 'm',"
                 " 'u', 1, 10)", (CLOCK - 5,))
    conn.close()
    with open_store(db, readonly=True) as r, r.read():
        totals = TotalsReader().read(r)
        assert totals.reserved_per_request == {} and totals.role("teacher").calls == 1
        assert last_minute(r, ["teacher"], CLOCK)["teacher"].tokens_reserved == 0
        plan = last_run_iterations(r)
        assert plan is not None and (plan.planned, plan.in_lion_toml) == (None, 2)
