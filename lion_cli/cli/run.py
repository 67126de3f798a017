"""`lion run`, `lion resume`, `lion status`: the loop, from wherever the project stands."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.check import refuse_unless_ready
from lion_cli.cli.common import Project, err, fail, open_project

EXIT_FAILED, EXIT_PAUSED, EXIT_BUSY, EXIT_INTERRUPTED = 1, 3, 4, 130


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_project(project: Project, iterations: int | None, until: str | None, *, resume: bool) -> int:
    """Run the loop under the project's lock; returns the process exit code."""
    import asyncio

    from lion_cli import __version__
    from lion_cli.cli.wiring import build_context
    from lion_cli.core.types import Stage
    from lion_cli.llm.errors import ApiError, BudgetExceeded
    from lion_cli.pipeline.loop import describe_position
    from lion_cli.store.lock import LockHeld, acquire
    from lion_cli.store.progress import begin_run, end_run

    settings, store = project.settings, project.store
    total = iterations or settings.loop.iterations
    stop_at = Stage(until) if until else None
    try:
        lock = acquire(store)
    except LockHeld as exc:
        err(f"error: {exc}")
        return EXIT_BUSY
    signal.signal(signal.SIGTERM, _raise_interrupt)
    run_id = begin_run(store, settings.model_dump_json(), __version__)
    status, code = "failed", EXIT_FAILED
    try:
        if lock.took_over:
            err(lock.took_over)
            store.event(lock.took_over, level="warning")
        ctx = build_context(project.dir, settings, store)
        where = describe_position(ctx, total)
        err(("resume: " if resume else "run: ") + where)
        store.event(f"{'resume' if resume else 'run'}: {where}")
        outcome = asyncio.run(_run(ctx, total, stop_at))
        status, code = ("done", 0)
        err("run finished" if outcome.finished else f"stopped after {outcome.completed[-1][1].value}"
            if outcome.completed else "nothing to do")
    except BudgetExceeded as exc:
        status, code = "paused", EXIT_PAUSED
        err(f"paused: {exc} — raise [budget] max_usd in lion.toml and run `lion resume`")
    except KeyboardInterrupt:
        status, code = "interrupted", EXIT_INTERRUPTED
        err("interrupted — everything finished so far is saved; `lion resume` goes on from here")
    except (ApiError, RuntimeError, OSError) as exc:
        err(f"error: {exc}")
    finally:
        end_run(store, run_id, status)
        store.event(f"run {status}", level="info" if code == 0 else "warning")
        lock.release()
    if code == 0:
        _print_status(project, as_json=False)
    return code


async def _run(ctx: Any, total: int, stop_at: Any) -> Any:
    from lion_cli.pipeline.loop import run_loop

    try:
        return await run_loop(ctx, total, stop_at)
    finally:
        await ctx.engine.aclose()


def _status_data(project: Project) -> dict[str, Any]:
    from dataclasses import asdict

    from lion_cli.core.projection import project as project_run
    from lion_cli.store.progress import next_position
    from lion_cli.store.summary import iteration_summaries
    from lion_cli.store.totals import read_totals

    s, store = project.settings, project.store
    with store.read():  # one moment of the store for every number below
        its = iteration_summaries(store)
        totals = read_totals(store)
        pos = next_position(store, s.loop.iterations)
    proj = project_run(totals, project.plan)
    return {
        "project": s.project.name, "dir": str(project.dir), "iterations": s.loop.iterations,
        "next": None if pos is None else {"iteration": pos[0], "stage": pos[1].value},
        "finished": pos is None, "per_iteration": its, "api": {r: asdict(u) for r, u in totals.roles.items()},
        "calls": totals.calls, "tokens": totals.tokens,
        "spent_usd": totals.spent_usd, "projected_total_usd": proj.total_usd,
        "projected_remaining_calls": proj.remaining_calls, "projected_cost_per_call": proj.cost_per_call,
        "api_eta_s": proj.eta_s, "api_eta_measured": proj.eta_measured, "budget_usd": s.budget.max_usd,
    }


def _duration(seconds: float) -> str:
    m, sec = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{sec:02d}"


def _print_status(project: Project, as_json: bool) -> None:
    d = _status_data(project)
    if as_json:
        print(json.dumps(d, indent=2, default=str))
        return
    nxt = "finished" if d["finished"] else f"next: iteration {d['next']['iteration']} {d['next']['stage']}"
    print(f"{d['project']}  ({d['iterations']} iterations planned; {nxt})")
    for i in d["per_iteration"]:
        hr = "-" if i["hard_rate"] is None else f"{i['hard_rate']:.2f}"
        oc = "-" if i["order_consistency"] is None else f"{i['order_consistency']:.2f}"
        stages = " ".join(f"{k[:5]}:{v['status']}" for k, v in i["stages"].items())
        print(f"  iteration {i['iteration']}: train {i['train_pool']}, cache {i['cache_pool']} | "
              f"hard {i['hard']}, easy {i['easy']}, unscored {i['unscored']} (hard rate {hr}, "
              f"order consistency {oc}) | new accepted {i['accepted']}, rejected {i['rejected']} | {stages}")
    for role, u in sorted(d["api"].items()):
        print(f"  {role:<9} {u['calls']} calls ({u['cached']} cached), {u['prompt_tokens']}+"
              f"{u['completion_tokens']} tokens, ${u['cost_usd']:.4f}, {u['retries']} retries, "
              f"{u['rate_limited']} × 429")
    cap = f" of ${d['budget_usd']:.2f} budget" if d["budget_usd"] else ""
    print(f"  spent ${d['spent_usd']:.4f}{cap}; projected total ${d['projected_total_usd']:.4f}")
    if d["api_eta_s"] is not None and not d["finished"]:
        basis = "measured request rates" if d["api_eta_measured"] else "rate limits where nothing is measured yet"
        print(f"  API work left: about {_duration(d['api_eta_s'])} at the {basis} (student time not included)")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        directory: Path = typer.Argument(None, help="Project folder (default: nearest lion.toml)."),
        iterations: int = typer.Option(None, "--iterations", min=1, help="Iterations in total (default: lion.toml)."),
        until: str = typer.Option(None, "--until", help="Stop after this stage: imitation|discrimination|generation."),
        tui: bool = typer.Option(False, "--tui", help="Run in a subprocess and watch it in the dashboard."),
    ) -> None:
        """Run the adversarial loop from wherever the project stands."""
        if until and until not in ("imitation", "discrimination", "generation"):
            fail(f"--until {until!r}: expected imitation, discrimination or generation")
        refuse_unless_ready(directory)
        if tui:
            raise typer.Exit(_run_with_tui(directory, iterations, until))
        raise typer.Exit(_run_here(directory, iterations, until, resume=False))

    @app.command("resume")
    def resume_cmd(
        directory: Path = typer.Argument(None, help="Project folder."),
        iterations: int = typer.Option(None, "--iterations", min=1),
    ) -> None:
        """Go on after an interruption (a kill, a crash, a budget pause): only missing work is done."""
        refuse_unless_ready(directory)
        raise typer.Exit(_run_here(directory, iterations, None, resume=True))

    @app.command("status")
    def status_cmd(directory: Path = typer.Argument(None, help="Project folder."),
                   as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Iteration, stage, counts, hard rate, API calls, tokens, dollars spent and projected."""
        _print_status(open_project(directory, readonly=True), as_json)


def _run_here(directory: Path | None, iterations: int | None, until: str | None, *, resume: bool) -> int:
    from lion_cli.cli.demo_server import demo_server_for

    project = open_project(directory)
    with demo_server_for(project):  # a demo project's local server, started again when it is gone
        return run_project(project, iterations, until, resume=resume)


def _run_with_tui(directory: Path | None, iterations: int | None, until: str | None) -> int:
    from lion_cli.cli.common import find_project_dir, project_plan
    from lion_cli.tui.app import run_dashboard

    d = find_project_dir(directory)
    argv = [sys.executable, "-m", "lion_cli", "run", str(d)]
    if iterations:
        argv += ["--iterations", str(iterations)]
    if until:
        argv += ["--until", until]
    log = open(d / "run.log", "ab")  # noqa: SIM115 — the child owns it for its lifetime
    # Its own session: "leave it running" must survive the terminal closing (SIGHUP).
    proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    err(f"run started (pid {proc.pid}); its output goes to {d / 'run.log'}")
    run_dashboard(d, proc, plan=project_plan(d))
    return 0 if proc.poll() is None else int(proc.returncode or 0)
