"""Read-only per-iteration counts for `lion status`, the demo's report and the dashboard."""

from __future__ import annotations

from typing import Any

from lion_cli.core.run_state import ShownStage, shown_stage
from lion_cli.store.db import Store
from lion_cli.store.failures import failure_counts
from lion_cli.store.paths import read_path
from lion_cli.store.progress import LOOP_ORDER, StageRow, all_stages


def _counts(store: Store, sql: str, iteration: int) -> dict[Any, int]:
    return {r[0]: r[1] for r in store.query(sql, (iteration,))}


def iteration_rows(store: Store) -> list[dict[str, Any]]:
    """Each iteration's status and student folder (absolute, in this store's project folder)."""
    rows = [dict(r) for r in store.query("SELECT iteration, status, student_path FROM iterations ORDER BY iteration")]
    for r in rows:
        if r["student_path"]:
            r["student_path"] = read_path(store, r["student_path"])
    return rows


def label_counts(store: Store, iteration: int) -> dict[str, int]:
    """label → count of an iteration (the labels_label index)."""
    return _counts(store, "SELECT label, COUNT(*) FROM labels WHERE iteration=? GROUP BY label", iteration)


def iteration_summaries(store: Store) -> list[dict[str, Any]]:
    out = []
    for r in iteration_rows(store):
        it = r["iteration"]
        pools = _counts(store, "SELECT pool, COUNT(*) FROM pool_members WHERE iteration=? GROUP BY pool", it)
        labels = label_counts(store, it)
        scored = labels.get("hard", 0) + labels.get("easy", 0)
        flips = store.scalar("SELECT AVG(order_flip) FROM labels WHERE iteration=? AND order_flip IS NOT NULL",
                             (it,))
        gap = store.scalar("SELECT AVG(gap) FROM labels WHERE iteration=? AND gap IS NOT NULL", (it,))
        cand = _counts(store, "SELECT accepted, COUNT(*) FROM candidates WHERE iteration=? GROUP BY accepted", it)
        failed = failure_counts(store, it)
        stages = {s["stage"]: {"status": s["status"], "step": s["step"], "done": s["done"], "total": s["total"],
                               "failed": failed.get(s["stage"], 0)}
                  for s in store.query(f"SELECT * FROM stages WHERE iteration=? ORDER BY {LOOP_ORDER}", (it,))}
        out.append({
            "iteration": it, "status": r["status"], "student_path": r["student_path"],
            "train_pool": pools.get("train", 0), "cache_pool": pools.get("cache", 0),
            "hard": labels.get("hard", 0), "easy": labels.get("easy", 0), "unscored": labels.get("unscored", 0),
            "hard_rate": (labels.get("hard", 0) / scored) if scored else None,
            "mean_gap": gap, "order_consistency": None if flips is None else 1 - flips,
            "accepted": cand.get(1, 0), "rejected": cand.get(0, 0), "failed": sum(failed.values()), "stages": stages,
        })
    return out


def stage_errors(store: Store) -> dict[tuple[int, str], str]:
    """(iteration, stage) → the error its latest stop was logged with (the loop's 'iteration N: STAGE
    stopped: …' event). Read only when a stage shows as failed: the events table has no level index."""
    out: dict[tuple[int, str], str] = {}
    for it, stage, message in store.query("SELECT iteration, stage, message FROM events WHERE level = 'error'"
                                          " AND iteration IS NOT NULL AND stage IS NOT NULL ORDER BY id"):
        out[(it, stage)] = str(message).split(" stopped: ", 1)[-1]
    return out


def shown_stages(store: Store, run_status: str) -> list[tuple[StageRow, ShownStage]]:
    """Every stage row with the state `lion status` and the dashboard show for it (core/run_state.py),
    the latest run being in `run_status` (store/lock.py run_state)."""
    rows = all_stages(store)
    shown = [shown_stage(r.stage.value, r.status.value, r.detail, run_status) for r in rows]
    if any(s.status == "failed" for s in shown):
        errors = stage_errors(store)
        shown = [shown_stage(r.stage.value, r.status.value, r.detail, run_status,
                             errors.get((r.iteration, r.stage.value))) for r in rows]
    return list(zip(rows, shown, strict=True))


def hardest_instructions(store: Store, limit: int) -> list[str]:
    """The texts of the hard-labelled instructions with the widest gaps, all iterations."""
    return [r[0] for r in store.query(
        "SELECT i.text FROM labels l JOIN instructions i ON i.id=l.instruction_id WHERE l.label='hard'"
        " ORDER BY l.gap DESC, i.id LIMIT ?", (limit,))]


def first_accepted(store: Store, limit: int) -> list[str]:
    """The texts of the first accepted candidates, in generator-call order."""
    return [r[0] for r in store.query("SELECT text FROM candidates WHERE accepted=1 ORDER BY slot LIMIT ?", (limit,))]
