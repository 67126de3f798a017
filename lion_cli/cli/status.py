"""`lion status`: where the run stands (each stage as it really is), what it spent and will spend, how
long the whole run has left, and the API limiter's own accounting. Every number is computed once, in
core, from one read of the store: the dashboard shows the same ones (tests/test_store_totals.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import Project, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project
from lion_cli.cli.status_distill import heldout_kl_line, heldout_kl_states
from lion_cli.cli.status_preference import preference_line, preference_states
from lion_cli.store.batch_ledger import batch_states


def status_data(project: Project, now: float | None = None) -> dict[str, Any]:
    from dataclasses import asdict

    from lion_cli.core.eta import run_eta
    from lion_cli.core.projection import project as project_run
    from lion_cli.core.throughput import throughputs
    from lion_cli.store.endpoint_state import endpoint_states
    from lion_cli.store.failures import active_failures
    from lion_cli.store.lock import latest_run_state
    from lion_cli.store.progress import next_position
    from lion_cli.store.summary import iteration_summaries, shown_stages
    from lion_cli.store.totals import last_minute, read_totals

    s, store, now = project.settings, project.store, time.time() if now is None else now
    with store.read():  # one moment of the store for every number below
        plan = project.plan
        its = iteration_summaries(store)
        totals = read_totals(store)
        run_status = latest_run_state(store, now)
        shown = shown_stages(store, run_status)
        minute = last_minute(store, list(plan.endpoints), now)
        pos = next_position(store, plan.iterations)
        endpoints = endpoint_states(store)
        failed_items = active_failures(store)
        final = final_imitation(store, plan.iterations)
        add_iteration_details(store, its)
        batches = batch_states(store)
    for row, state in shown:
        for it in its:
            if it["iteration"] == row.iteration and row.stage.value in it["stages"]:
                it["stages"][row.stage.value].update(status=state.status, note=state.note)
    proj = project_run(totals, plan)
    eta = run_eta(totals, plan, proj)
    return {
        "project": s.project.name, "dir": str(project.dir), "iterations": plan.iterations, "run_status": run_status,
        "next": None if pos is None else {"iteration": pos[0], "stage": pos[1].value},
        "finished": pos is None, "per_iteration": its, "api": {r: asdict(u) for r, u in totals.roles.items()},
        "calls": totals.calls, "tokens": totals.tokens,
        "spent_usd": totals.spent_usd, "projected_total_usd": proj.total_usd,
        "projected_remaining_calls": proj.remaining_calls, "projected_cost_per_call": proj.cost_per_call,
        "api_eta_s": proj.eta_s, "api_eta_measured": proj.eta_measured, "budget_usd": s.budget.max_usd,
        "eta": {"seconds": eta.seconds, "complete": eta.complete, "basis": eta.basis, "text": eta.describe(),
                "parts": [asdict(p) for p in eta.parts]},
        "limits": {role: {"rpm": tp.rpm, "tpm": tp.tpm, "max_tokens": tp.max_tokens,
                          "reserved_per_request": tp.reserved_per_request, "reserved_measured": tp.measured,
                          "max_requests_per_min": tp.max_per_minute, "tpm_bound": tp.tpm_bound,
                          "advice": tp.advice(), "last_minute": asdict(minute[role]),
                          "mode": s.endpoint(role).mode}
                   for role, tp in throughputs(totals, plan).items()},
        # What the engine last reported doing with each endpoint (concurrency found, backing off).
        "endpoints": [{**asdict(e), "text": e.describe(), "age_s": max(0.0, now - e.at)} for e in endpoints],
        # Items a request failed for good (left out of their stage until `lion retry-failed`).
        "failed_items": [asdict(f) for f in failed_items],
        "final_imitation": final,
        "batches": [{**asdict(b), "text": b.describe()} for b in batches],   # newest first (roles in batch mode)
    }


def add_iteration_details(store: Any, its: list[dict[str, Any]]) -> None:
    """Each iteration summary's teacher answers cut off by max_tokens (kept and trained on, the paper's rule;
    counted so a too small max_tokens shows), its held-out KL to the teacher, and its preference stage."""
    from lion_cli.store.loop_rows import cut_off_per_iteration

    cut_off = cut_off_per_iteration(store, "teacher")
    preference, heldout = preference_states(store), heldout_kl_states(store)
    for it in its:
        it.update(teacher_cut_off=cut_off.get(it["iteration"], 0), heldout_kl=heldout.get(it["iteration"]))
        if it["iteration"] in preference:
            it["preference"] = preference[it["iteration"]]


def final_imitation(store: Any, iterations: int) -> dict[str, Any]:
    """The last stage, an imitation on every Train Pool (seeds + iterations × new): its state and its
    training set's size (the trained count once done; before, what the pools hold so far)."""
    from lion_cli.core.types import Stage
    from lion_cli.store.progress import stage_row
    from lion_cli.store.training_set import train_pool_ids

    row = stage_row(store, iterations, Stage.IMITATION)
    done = row is not None and row.status.value == "done"
    size = row.detail.get("train_examples") if row is not None and done else None
    return {"iteration": iterations, "status": row.status.value if row is not None else "pending",
            "train_examples": size if isinstance(size, int) else len(train_pool_ids(store, range(iterations + 1))),
            "trained": done}


def _iteration_lines(d: dict[str, Any]) -> list[str]:
    lines = []
    for i in d["per_iteration"]:
        hr = "-" if i["hard_rate"] is None else f"{i['hard_rate']:.2f}"
        oc = "-" if i["order_consistency"] is None else f"{i['order_consistency']:.2f}"
        stages = " ".join(f"{k[:5]}:{v['status']}" for k, v in i["stages"].items())
        lines.append(f"  iteration {i['iteration']}: train {i['train_pool']}, cache {i['cache_pool']} | "
                     f"hard {i['hard']}, easy {i['easy']}, unscored {i['unscored']} (hard rate {hr}, "
                     f"order consistency {oc}) | new accepted {i['accepted']}, rejected {i['rejected']} | {stages}")
        if i.get("teacher_cut_off"):
            lines.append(f"      {i['teacher_cut_off']} teacher answer(s) cut off by max_tokens (kept, trained on)")
        if i.get("heldout_kl"):
            lines.append(heldout_kl_line(i["heldout_kl"]))
        if i.get("preference"):
            lines.append(preference_line(i["preference"]))
        lines += [f"      {k} {v['note'] if v['status'] == 'gave up' else v['status'] + ': ' + v['note']}"
                  for k, v in i["stages"].items() if v.get("note")]
        lines += [f"      {k}: {v['failed']} item(s) failed for good"
                  for k, v in i["stages"].items() if v.get("failed")]
    return lines


def _failure_lines(d: dict[str, Any], shown: int = 10) -> list[str]:
    """The failed items, one line each (the first `shown`), and how to send them again."""
    failed = d["failed_items"]
    lines = [f"  failed: it{f['iteration']} {f['stage']} {f['role']} {f['item_key']}: {f['reason'][:160]}"
             for f in failed[:shown]]
    if len(failed) > shown:
        lines.append(f"  … and {len(failed) - shown} more (`lion status --json` lists all)")
    if failed:
        lines.append(f"  {len(failed)} failed item(s): fix the cause, then `lion retry-failed {d['dir']}`")
    return lines


def _limit_lines(d: dict[str, Any]) -> list[str]:
    """The limiter's accounting per role: what a request reserves, what the limits let through, the
    last minute against them, and the advice when max_tokens caps the pace."""
    lines = []
    for role, lim in d["limits"].items():
        if lim["mode"] == "batch":   # the provider's batch window paces it, not rpm/tpm
            lines.append(f"  {role:<9} batch mode: rpm/tpm do not apply; its batches are listed below")
            continue
        m = lim["last_minute"]
        size = "" if lim["reserved_measured"] else " (assumed)"
        lines.append(f"  {role:<9} limiter: ~{lim['reserved_per_request']:,.0f} tokens reserved per request{size}"
                     f" → at most {int(lim['max_requests_per_min']):,} req/min; last minute {m['requests']:,} of"
                     f" rpm {lim['rpm']:,}, {m['tokens_reserved']:,} reserved of tpm {lim['tpm']:,}"
                     f" ({m['tokens_used']:,} used)")
    lines += [f"  {lim['advice']}" for lim in d["limits"].values() if lim["advice"] and lim["mode"] != "batch"]
    return lines


def print_status(project: Project, as_json: bool) -> None:
    d = status_data(project)
    if as_json:
        print(json.dumps(d, indent=2, default=str))
        return
    nxt = "finished" if d["finished"] else f"next: iteration {d['next']['iteration']} {d['next']['stage']}"
    print(f"{d['project']}  ({d['iterations']} iterations planned; {nxt}; run: {d['run_status']})")
    fin = d["final_imitation"]
    lines = _iteration_lines(d) + _failure_lines(d)
    lines.append(f"  final imitation (iteration {fin['iteration']}): {fin['status']}, "
                 f"{'trained on' if fin['trained'] else 'training set so far'} {fin['train_examples']:,} examples")
    for role, u in sorted(d["api"].items()):
        lines.append(f"  {role:<9} {u['calls']} calls ({u['cached']} cached), {u['prompt_tokens']}+"
                     f"{u['completion_tokens']} tokens, ${u['cost_usd']:.4f}, {u['retries']} retries, "
                     f"{u['rate_limited']} × 429")
    lines += _limit_lines(d)
    lines += [f"  {e['endpoint']} ({', '.join(e['roles'])}): {e['text']}, as of {e['age_s']:.0f} s ago"
              for e in d["endpoints"]]
    lines += [f"  {b['text']}" for b in d["batches"]]
    cap = f" of ${d['budget_usd']:.2f} budget" if d["budget_usd"] else ""
    lines.append(f"  spent ${d['spent_usd']:.4f}{cap}; projected total ${d['projected_total_usd']:.4f}")
    if not d["finished"]:
        from lion_cli.core.eta import clock

        eta = d["eta"]
        bound = "about" if eta["complete"] else "at least"
        lines.append(f"  run ETA: {bound} {clock(eta['seconds'])} ({eta['basis']}): {eta['text']}")
    print("\n".join(lines))


def register(app: typer.Typer) -> None:
    @app.command("status", epilog=examples("lion status", "lion status myproj --json"))
    def status_cmd(directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
                   as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Iteration, stage, counts, hard rate, API calls and the limiter's accounting, tokens, dollars
        spent and projected, and the whole run's ETA."""
        print_status(open_project(chosen_project(directory, project_option), readonly=True), as_json)
