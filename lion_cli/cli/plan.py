"""`lion plan PROJECT` (and `lion run --dry-run`): the whole run as configured, before a request is sent —
requests, tokens and dollars per iteration, stage and role, online and through the batch API, and the
wall time the rpm/tpm limits imply (core/plan.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lion_cli.cli.common import Project, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project
from lion_cli.core.online_plan import OnlineRounds, online_rounds_from
from lion_cli.core.plan import Plan, PlanLine

if TYPE_CHECKING:
    from lion_cli.config import Settings


def project_plan_of(project: Project, iterations: int | None = None) -> Plan:
    from lion_cli.core.plan import PlanInputs, make_plan
    from lion_cli.core.types import API_ROLES
    from lion_cli.store.plan_inputs import measured

    s, seen = project.settings, measured(project.store)
    return make_plan(PlanInputs(
        seeds=seen.seeds, iterations=project.planned_iterations(iterations),
        new_per_iteration=s.loop.new_per_iteration, max_attempts_factor=s.loop.max_attempts_factor,
        endpoints={r.value: s.endpoint(r) for r in API_ROLES}, measured_sizes=seen.sizes,
        cache_sizes=seen.cache_sizes, train_sizes=seen.train_sizes, acceptance=seen.acceptance,
        referee_retry_rate=seen.referee_retry_rate, probes=seen.probes, online=online_rounds(s),
        hard_shares=seen.hard_shares))


def online_rounds(s: Settings) -> OnlineRounds:
    """[preference] online as the plan counts it (the projection reads the same settings the same way)."""
    return online_rounds_from(s.preference.model_dump())


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds < float("inf") else "∞"


def line_text(line: PlanLine, label: str) -> str:
    return (f"{label:<30} {line.role:<10} {line.requests:>9,} {line.prompt_tokens + line.completion_tokens:>13,}"
            f" {line.online_usd:>11,.2f} {line.batch_usd:>11,.2f} {hours(line.wall_s):>9}")


def plan_text(plan: Plan) -> list[str]:
    out = [f"{'iteration · stage':<30} {'role':<10} {'requests':>9} {'tokens':>13} {'online $':>11} "
           f"{'batch $':>11} {'wall':>9}"]
    out += [line_text(x, f"{x.iteration} · {x.stage}") for x in plan.lines]
    loop = plan.total(with_final=False)
    out.append(line_text(loop, "the iterations"))
    out += [line_text(x, x.stage) for x in plan.final]
    whole = plan.total()
    out.append(line_text(whole, "the whole run"))
    out.append("")
    out += [line_text(x, "per role") for x in plan.by_role().values()]
    added = whole.requests - loop.requests
    extra_usd = whole.online_usd - loop.online_usd
    what = "teacher answers for the last iteration's new instructions" + (
        ", and its online DPO rounds" if len(plan.final) > 1 else "")
    out += ["", f"the final imitation ({what}) adds {added:,} requests, ${extra_usd:,.2f} online "
                f"(${whole.batch_usd - loop.batch_usd:,.2f} batch)",
            "wall: the stages one after another at the most each role's rpm/tpm let through; a batch stage"
            " waits instead for its batches' completion window"]
    out += [f"assumed: {note}" for note in plan.assumed]
    return out


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"lines": [asdict(x) for x in plan.lines], "final_imitation": [asdict(x) for x in plan.final],
            "loop_total": asdict(plan.total(with_final=False)), "total": asdict(plan.total()),
            "by_role": {r: asdict(x) for r, x in plan.by_role().items()}, "assumed": plan.assumed}


def print_plan(project: Project, iterations: int | None, as_json: bool) -> None:
    plan = project_plan_of(project, iterations)
    if as_json:
        print(json.dumps(plan_json(plan), indent=2, default=str))
    else:
        print("\n".join(plan_text(plan)))


def register(app: typer.Typer) -> None:
    @app.command("plan", epilog=examples("lion plan", "lion plan myproj --iterations 3 --json"))
    def plan_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        iterations: int = typer.Option(None, "--iterations", min=1, help="Iterations in total (default: lion.toml).",
                                       metavar="N"),
        as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """What the whole run will send and cost, online and batch, before anything is sent."""
        print_plan(open_project(chosen_project(directory, project_option), readonly=True), iterations, as_json)
