"""The preference stage (DPO after an iteration's imitation, [preference]) as `lion status` shows it:
per iteration, its DPO job's state, the pairs it trained on and its last step's margin and accuracy."""

from __future__ import annotations

from typing import Any


def preference_states(store: Any) -> dict[int, dict[str, Any]]:
    """iteration → {status, pairs, margin_min, reward_margin, accuracy} for iterations with a DPO job or
    a finished imitation that recorded a preference detail (a skipped one says why)."""
    from lion_cli.core.types import Stage
    from lion_cli.store.jobs import dpo_jobs_last_step
    from lion_cli.store.progress import all_stages

    states: dict[int, dict[str, Any]] = {}
    for row in all_stages(store):
        found = row.detail.get("preference") if row.stage is Stage.IMITATION else None
        if isinstance(found, dict):
            states[row.iteration] = {"status": "skipped" if found.get("skipped") else "done", **found}
    for r in dpo_jobs_last_step(store):
        entry = states.setdefault(int(r["iteration"]), {})
        if entry.get("status") != "done":
            entry["status"] = r["status"]
        entry.update({k: r[k] for k in ("margin", "accuracy") if r.get(k) is not None})
    return states


def preference_line(state: dict[str, Any]) -> str:
    if state.get("status") == "skipped":
        return f"      preference skipped: {state.get('skipped')}"
    pairs = f" on {state['pairs']} pairs" if "pairs" in state else ""
    scores = (f" · reward margin {state['margin']:.3f}, accuracy {state['accuracy']:.2f}"
              if isinstance(state.get("margin"), float) and isinstance(state.get("accuracy"), float) else "")
    return f"      preference (DPO){pairs}: {state.get('status')}{scores}"
