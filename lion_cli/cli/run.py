"""`lion run`, `lion resume`: the loop, from wherever the project stands (`lion status`: cli/status.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.check import refuse_unless_ready
from lion_cli.cli.common import Project, err, fail, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

# `lion run` / `lion resume` exit codes (2, a project `lion check` refuses, comes from cli/check.py).
EXIT_FAILED, EXIT_PAUSED, EXIT_BUSY, EXIT_JOB_FAILED, EXIT_INTERRUPTED = 1, 3, 4, 5, 130
EXIT_CODES_HELP = ("Exit codes: 0 done; 1 an error; 2 the project fails `lion check`; 3 paused at the budget; "
                   "4 another run holds the project; 5 a training or generation job failed (its first error, "
                   "log and the fix are printed); 130 interrupted (Ctrl-C or SIGTERM).")


def run_project(project: Project, iterations: int | None, until: str | None, *, resume: bool,
                as_json: bool = False, summary: bool = True) -> int:
    """Run the loop under the project's lock; returns the process exit code. SIGINT and SIGTERM stop
    it the same way in every stage (cli/stop_signals.py)."""
    from lion_cli.cli.stop_signals import StopOnSignal
    from lion_cli.store.lock import LockHeld, acquire

    try:
        lock = acquire(project.store)
    except LockHeld as exc:
        err(f"error: {exc}")
        return EXIT_BUSY
    with StopOnSignal() as stop:
        code = _run_locked(project, lock, iterations, until, resume, stop)
    if code == 0 and summary:
        from lion_cli.cli.status import print_status

        print_status(project, as_json=as_json)
    return code


def _run_locked(project: Project, lock: Any, iterations: int | None, until: str | None, resume: bool,
                stop: Any) -> int:
    import asyncio

    from lion_cli import __version__
    from lion_cli.cli.wiring import build_context
    from lion_cli.core.types import Stage
    from lion_cli.pipeline.loop import describe_position
    from lion_cli.store.progress import begin_run, end_run

    settings, store = project.settings, project.store
    total = project.planned_iterations(iterations)
    run_id = begin_run(store, settings.model_dump_json(), __version__, total)
    status, code = "failed", EXIT_FAILED
    try:
        if lock.took_over:
            err(lock.took_over)
            store.event(lock.took_over, level="warning")
        ctx = build_context(project.dir, settings, store)
        where = describe_position(ctx, total)
        err(("resume: " if resume else "run: ") + where)
        store.event(f"{'resume' if resume else 'run'}: {where}")
        outcome = asyncio.run(_run(ctx, total, Stage(until) if until else None, stop))
        status, code = ("done", 0)
        err("run finished" if outcome.finished else f"stopped after {outcome.completed[-1][1].value}"
            if outcome.completed else "nothing to do")
    except BaseException as exc:
        known = _known_end(exc, project)
        if known is None:
            raise
        status, code = known
    finally:
        stop.finishing()
        end_run(store, run_id, status)
        store.event(f"run {status}", level="info" if code == 0 else "warning")
        lock.release()
    return code


def _known_end(exc: BaseException, project: Project) -> tuple[str, int] | None:
    """(run status, exit code) for a run that ended early for a known reason, its message printed;
    None for anything else (a bug: its traceback is worth seeing)."""
    from lion_cli.llm.errors import ApiError, BudgetExceeded
    from lion_cli.pipeline.job_thread import stopped_by
    from lion_cli.student.launcher import JobFailed
    from lion_cli.student.specs import SpecError

    resume = f"`lion resume {project.dir}`"
    if isinstance(exc, BudgetExceeded):
        err(f"paused: {exc} — raise [budget] max_usd in lion.toml and run {resume}")
        return "paused", EXIT_PAUSED
    if stopped_by(exc):
        err(f"interrupted — everything finished so far is saved; {resume} goes on from here")
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, JobFailed):
        err(job_failure_message(exc, resume))
        return "failed", EXIT_JOB_FAILED
    if isinstance(exc, SpecError):
        err(f"error: {exc}\n  next: fix that setting in {project.config_path}, then run {resume}")
        return "failed", EXIT_FAILED
    if isinstance(exc, ApiError | RuntimeError | OSError):
        err(f"error: {exc}")
        return "failed", EXIT_FAILED
    return None


def job_failure_message(exc: Any, resume: str) -> str:
    """A failed student job in three lines: its first error, its log, what to do next."""
    if exc.oom:
        fix = ("give the job less to hold: lower student.per_device_batch_size or student.max_length (or set "
               "student.gradient_checkpointing = true; for generation lower student.generation.batch_size)")
    else:
        fix = "fix what the error names (a [student] setting in lion.toml, or the model or data it points at)"
    return f"error: {exc.cause}\n  log: {exc.log_path}\n  next: {fix}, then run {resume}"


async def _run(ctx: Any, total: int, stop_at: Any, stop: Any) -> Any:
    from lion_cli.pipeline.loop import run_loop

    stop.watch()
    try:
        return await run_loop(ctx, total, stop_at)
    finally:
        await ctx.engine.aclose()


def register(app: typer.Typer) -> None:
    @app.command("run", epilog=examples(
        "lion run", "lion run myproj --iterations 2 --tui", "lion run --until imitation --json",
        before=EXIT_CODES_HELP))
    def run_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        iterations: int = typer.Option(None, "--iterations", min=1, help="Iterations in total (default: lion.toml).",
                                       metavar="N"),
        until: str = typer.Option(None, "--until", help="Stop after this stage: imitation|discrimination|generation.",
                                  metavar="STAGE"),
        tui: bool = typer.Option(False, "--tui", help="Run in a subprocess and watch it in the dashboard."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print `lion plan` for the run and send nothing."),
        as_json: bool = typer.Option(False, "--json", help="The closing summary (and --dry-run's plan) as JSON."),
    ) -> None:
        """Run the adversarial loop from wherever the project stands."""
        directory = chosen_project(directory, project_option)
        if until and until not in ("imitation", "discrimination", "generation"):
            fail(f"--until {until!r}: expected imitation, discrimination or generation")
        if dry_run:
            from lion_cli.cli.plan import print_plan

            print_plan(open_project(directory, readonly=True), iterations, as_json=as_json)
            raise typer.Exit(0)
        refuse_unless_ready(directory)
        if tui:
            raise typer.Exit(_run_with_tui(directory, iterations, until))
        raise typer.Exit(_run_here(directory, iterations, until, resume=False, as_json=as_json))

    @app.command("resume", epilog=examples("lion resume", "lion resume myproj --iterations 5",
                                                 before=EXIT_CODES_HELP))
    def resume_cmd(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        iterations: int = typer.Option(None, "--iterations", min=1, metavar="N"),
        as_json: bool = typer.Option(False, "--json", help="The closing summary as JSON (`lion status --json`)."),
    ) -> None:
        """Go on after an interruption (a kill, a crash, a budget pause): only missing work is done."""
        directory = chosen_project(directory, project_option)
        refuse_unless_ready(directory)
        raise typer.Exit(_run_here(directory, iterations, None, resume=True, as_json=as_json))


def _run_here(directory: Path | None, iterations: int | None, until: str | None, *, resume: bool,
              as_json: bool = False) -> int:
    from lion_cli.cli.demo_server import demo_server_for

    project = open_project(directory)
    with demo_server_for(project):  # a demo project's local server, started again when it is gone
        return run_project(project, iterations, until, resume=resume, as_json=as_json)


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
