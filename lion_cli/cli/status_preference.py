"""The preference stage (DPO after an iteration's imitation, [preference]) as `lion status` shows it:
per iteration, its DPO job's state, the pairs it trained on and its last step's margin and accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def preference_states(store: Any) -> dict[int, dict[str, Any]]:
    """iteration → {status, pairs, margin_min, reward_margin, accuracy} for iterations with a DPO job or
    a finished imitation that recorded a preference detail (a skipped one says why)."""
    from lion_cli.core.types import Stage
    from lion_cli.pipeline.context import ONLINE_ROUND_PREFIX
    from lion_cli.store.jobs import dpo_jobs_last_step
    from lion_cli.store.progress import all_stages

    states: dict[int, dict[str, Any]] = {}
    for row in all_stages(store):
        found = row.detail.get("preference") if row.stage is Stage.IMITATION else None
        if isinstance(found, dict):
            states[row.iteration] = {"status": "skipped" if found.get("skipped") else "done", **found}
    for r in dpo_jobs_last_step(store):
        entry = states.setdefault(int(r["iteration"]), {})
        folder = Path(str(r["output_dir"] or "")).name
        if folder.startswith(ONLINE_ROUND_PREFIX):  # an online round's job: its scores are in that round's detail
            entry["online_job"] = {"round": folder.removeprefix(ONLINE_ROUND_PREFIX), "status": r["status"]}
            continue
        if entry.get("status") not in ("done", "skipped"):
            entry["status"] = r["status"]
        entry.update({k: r[k] for k in ("margin", "accuracy") if r.get(k) is not None})
    return states


def preference_line(state: dict[str, Any]) -> str:
    """The iteration's preference stage: the DPO on judged pairs, then each online round, one line each."""
    rounds = "".join("\n" + online_round_line(r) for r in state.get("online") or [] if isinstance(r, dict))
    job = state.get("online_job")
    if "status" not in state and isinstance(job, dict):  # only online rounds, still running
        return f"      preference · online round {job['round']}: {job['status']}"
    if state.get("status") == "skipped":
        return f"      preference skipped: {state.get('skipped')}{rounds}"
    pairs = f" on {state['pairs']} pairs" if "pairs" in state else ""
    return f"      preference (DPO){pairs}: {state.get('status')}{_scores(state)}{rounds}"


def online_round_line(r: dict[str, Any]) -> str:
    """`online round 1: 7 pairs from 9 prompts (18 samples, 36 referee requests) · reward margin …`."""
    if r.get("skipped"):
        return f"      online round {r.get('round')} skipped: {r['skipped']}"
    return (f"      online round {r.get('round')}: {r.get('pairs', 0)} pairs from {r.get('prompts', 0)} prompts "
            f"({r.get('sampled', 0)} samples, {r.get('referee_asked', 0)} referee requests){_scores(r)}")


def _scores(state: dict[str, Any]) -> str:
    if isinstance(state.get("margin"), float) and isinstance(state.get("accuracy"), float):
        return f" · reward margin {state['margin']:.3f}, accuracy {state['accuracy']:.2f}"
    return ""
