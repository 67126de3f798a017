"""`lion plan`: the whole run's requests, tokens and dollars, online and batch, before a request is sent.

- the paper's configuration (52K seeds, 3 iterations, 6K new each, both orders) plans within 10 % of its
  ~450K requests, and the final imitation adds the teacher's answers for the last 6K only;
- batch dollars are the batch price keys' (default half the online price);
- `lion run --dry-run` prints the plan and sends nothing;
- on a small project, the plan before a scripted run and after it against what the server counted.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lion_cli.config import Settings
from lion_cli.core.plan import PlanInputs, make_plan
from lion_cli.core.prices import BATCH_DISCOUNT
from lion_cli.core.types import API_ROLES
from tests.loop_helpers import lion, make_project, server_stats

PAPER_REQUESTS = 450_000
PAPER_PRICES = {"price_input_per_1k": 0.0015, "price_output_per_1k": 0.002}   # gpt-3.5-turbo, 2023


def paper_inputs(**endpoint_changes: Any) -> PlanInputs:
    s = Settings()
    endpoints = {r.value: dataclasses.replace(s.endpoint(r), **PAPER_PRICES, **endpoint_changes) for r in API_ROLES}
    return PlanInputs(seeds=52_002, iterations=3, new_per_iteration=6_000, max_attempts_factor=3.0,
                      endpoints=endpoints)


def test_the_papers_configuration_plans_its_450k_requests() -> None:
    plan = make_plan(paper_inputs())
    total = plan.total()
    assert abs(total.requests - PAPER_REQUESTS) / PAPER_REQUESTS < 0.10, total.requests
    roles = plan.by_role()
    # Both orders for every Cache Pool member of each iteration: 52K, 58K and 64K.
    assert roles["referee"].requests == 2 * (52_002 + 58_002 + 64_002) + 1   # + the structured-replies probe
    assert roles["teacher"].requests == 52_002 + 3 * 6_000   # seeds, then each iteration's new ones
    # The final imitation adds the teacher's answers for the last iteration's new instructions only.
    assert [(x.stage, x.role, x.requests) for x in plan.final] == [("final imitation", "teacher", 6_000)]
    assert plan.total(with_final=False).requests == total.requests - 6_000
    # Priced at the 2023 list price, about the paper's $900.
    assert 700 < total.online_usd < 1_100
    assert any("assumed acceptance" in note for note in plan.assumed)


def test_online_dpo_rounds_are_planned_as_the_referee_scores_them() -> None:
    from lion_cli.core.plan import OnlineRounds

    def online(**kw: Any) -> list[tuple[int, str, int]]:
        plan = make_plan(dataclasses.replace(paper_inputs(), **kw))
        return [(x.iteration, x.stage, x.requests) for x in plan.lines + plan.final if "online" in x.stage]

    each = OnlineRounds(rounds=2, samples=4, each=True)
    # k samples × both orders × rounds, over the previous discrimination's hard instructions: 25 % measured
    # at iteration 0, half assumed after (Cache Pools 52,002, 58,002 and 64,002); none at iteration 0.
    assert online(online=each, hard_shares={0: 0.25}) == [
        (1, "imitation · online DPO", round(52_002 * 0.25) * 16), (2, "imitation · online DPO", 29_001 * 16),
        (3, "final imitation · online DPO", 32_001 * 16)]
    assert online(online=OnlineRounds(rounds=1, samples=2, each=False)) == [(3, "final imitation · online DPO",
                                                                             32_001 * 4)]
    assert online(online=OnlineRounds(rounds=1, samples=2, each=False, whole_cache=True))[0][2] == 64_002 * 4
    assert online() == []  # off
    notes = make_plan(dataclasses.replace(paper_inputs(), online=each)).assumed
    assert any("online DPO" in n and "50%" in n for n in notes)


def test_batch_dollars_are_the_batch_price_keys() -> None:
    halved = make_plan(paper_inputs()).total()
    assert halved.batch_usd == pytest.approx(halved.online_usd * BATCH_DISCOUNT)
    own = make_plan(paper_inputs(batch_price_input_per_1k=0.0015, batch_price_output_per_1k=0.0)).total()
    assert own.batch_usd == pytest.approx(own.prompt_tokens / 1000 * 0.0015)
    assert own.online_usd == pytest.approx(halved.online_usd)


def test_a_rate_limit_sets_the_wall_time() -> None:
    slow = make_plan(paper_inputs(rpm=60, tpm=10_000_000)).total(with_final=False)
    assert slow.wall_s == pytest.approx(slow.requests * 1.0)   # 60 a minute: one second each


def _plan_json(project: Path, *args: str) -> dict[str, Any]:
    done = lion("plan", str(project), "--json", *args)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_dry_run_prints_the_plan_and_sends_nothing(tmp_path: Path, tiny_model_dir: Path) -> None:
    project = make_project(tmp_path, "http://127.0.0.1:9/v1", tiny_model_dir)   # nothing listens there
    done = lion("run", str(project), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "the whole run" in done.stdout and "final imitation" in done.stdout
    with sqlite3.connect(project / "lion.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM api_calls").fetchone()[0] == 0
    plan = _plan_json(project)
    assert plan["by_role"]["teacher"]["requests"] == 24 + 8 + 8
    as_json = lion("run", str(project), "--dry-run", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == plan
    assert any("no paid request yet" in note for note in plan["assumed"])


@pytest.mark.slow
def test_the_plan_counts_what_a_scripted_run_sends(tmp_path: Path, tiny_model_dir: Path) -> None:
    """24 seeds, 2 iterations of 8 new: planned before the run, counted by the server, planned after."""
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.0, 0.02)) as url:
        project = make_project(tmp_path, url, tiny_model_dir)
        before = {r: x["requests"] for r, x in _plan_json(project)["by_role"].items()}
        done = lion("run", str(project), "--json", timeout=900)   # ~30 s alone; minutes on a loaded 2-core box
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["run_status"] == "done"   # --json: the closing summary is status's JSON
        sent = server_stats(url)["by_role"]
    after = {r: x["requests"] for r, x in _plan_json(project)["by_role"].items()}
    # Teacher: 24 seeds, 8 new in iteration 1, 8 for the final imitation. Referee: both orders of a
    # Cache Pool of 24 then 32, and one structured-replies probe of the endpoint all roles share.
    assert before["teacher"] == sent["teacher"] == 40
    assert before["referee"] == sent["referee"] == 2 * 24 + 2 * 32 + 1
    # The generator's count before the run rests on an assumed acceptance: between the quota and the limit.
    assert 2 * 8 <= before["generator"] <= 2 * 8 * 3
    # After the run, every number is measured: the plan is what the server counted.
    assert after == sent
