"""Read-only counts for `lion status` and the demo's report."""

from __future__ import annotations

from typing import Any

from lion_cli.store.db import Store


def _counts(store: Store, sql: str, iteration: int) -> dict[Any, int]:
    return {r[0]: r[1] for r in store.query(sql, (iteration,))}


def iteration_summaries(store: Store) -> list[dict[str, Any]]:
    out = []
    for r in store.query("SELECT iteration, status, student_path FROM iterations ORDER BY iteration"):
        it = r["iteration"]
        pools = _counts(store, "SELECT pool, COUNT(*) FROM pool_members WHERE iteration=? GROUP BY pool", it)
        labels = _counts(store, "SELECT label, COUNT(*) FROM labels WHERE iteration=? GROUP BY label", it)
        scored = labels.get("hard", 0) + labels.get("easy", 0)
        flips = store.scalar("SELECT AVG(order_flip) FROM labels WHERE iteration=? AND order_flip IS NOT NULL",
                             (it,))
        gap = store.scalar("SELECT AVG(gap) FROM labels WHERE iteration=? AND gap IS NOT NULL", (it,))
        cand = _counts(store, "SELECT accepted, COUNT(*) FROM candidates WHERE iteration=? GROUP BY accepted", it)
        stages = {s["stage"]: {"status": s["status"], "step": s["step"], "done": s["done"], "total": s["total"]}
                  for s in store.query("SELECT * FROM stages WHERE iteration=?", (it,))}
        out.append({
            "iteration": it, "status": r["status"], "student_path": r["student_path"],
            "train_pool": pools.get("train", 0), "cache_pool": pools.get("cache", 0),
            "hard": labels.get("hard", 0), "easy": labels.get("easy", 0), "unscored": labels.get("unscored", 0),
            "hard_rate": (labels.get("hard", 0) / scored) if scored else None,
            "mean_gap": gap, "order_consistency": None if flips is None else 1 - flips,
            "accepted": cand.get(1, 0), "rejected": cand.get(0, 0), "stages": stages,
        })
    return out


def api_usage(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query(
        "SELECT role, COUNT(*) AS calls, SUM(cached) AS cached, SUM(prompt_tokens) AS tin,"
        " SUM(completion_tokens) AS tout, SUM(CASE WHEN cached=0 THEN cost_usd ELSE 0 END) AS cost,"
        " SUM(retries) AS retries, SUM(rate_limited) AS r429, SUM(1-ok) AS failed FROM api_calls GROUP BY role")
    return {r["role"]: {"calls": r["calls"], "cached": r["cached"] or 0, "prompt_tokens": r["tin"] or 0,
                        "completion_tokens": r["tout"] or 0, "cost_usd": r["cost"] or 0.0,
                        "retries": r["retries"] or 0, "rate_limited": r["r429"] or 0, "failed": r["failed"] or 0}
            for r in rows}
