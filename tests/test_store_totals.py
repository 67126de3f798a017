"""One place per number: on the same store, `lion status --json` and the dashboard's API panel give
the same spent, projected and ETA figures (fresh, mid-run and finished projects), and a fresh
project's projection is the endpoint prices × the assumed request size, not 0."""

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
    """The known project with its run over: lion.toml plans the 2 iterations it has, both done."""
    d = build_known_project(tmp_path / "done", run_status="done")
    toml = d / "lion.toml"
    toml.write_text(toml.read_text().replace("iterations = 3 ", "iterations = 2 ", 1))
    with open_store(d / "lion.db") as w, w.tx() as c:
        c.execute("UPDATE iterations SET status='done'")
        c.execute("UPDATE stages SET status='done', done=total")
    return d


SCENARIOS = {"fresh": lambda p: build_empty_project(p / "fresh"), "mid-run": lambda p: build_known_project(p / "mid"),
             "finished": _finished}


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
    # lion.toml: 3 iterations × 6,000 new per iteration over 8 seeds
    assert status["projected_remaining_calls"]["teacher"] == 8 + 2 * 6000
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
    # teacher 5, referee 10, generator 20 requests; each 500 expected tokens: tpm allows 12/min < rpm 60
    assert p.remaining_calls == {"teacher": 5, "referee": 10, "generator": 20}
    assert p.eta_s == pytest.approx(35 * 5.0) and not p.eta_measured
    measured = RunTotals(cache_size=5, teacher_missing=5, roles={"teacher": RoleTotals(calls=2, cost_usd=1.0)},
                         request_rates={"teacher": 2.0, "referee": 1.0, "generator": 4.0})
    p = project(measured, plan)
    assert p.eta_s == pytest.approx(5 / 2.0 + 10 / 1.0 + 20 / 4.0) and p.eta_measured
    assert p.cost_per_call["teacher"] == 0.5   # observed: $1 over 2 paid requests
