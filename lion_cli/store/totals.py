"""The one read of the store that every total, projection and ETA comes from (core/totals.py).

`lion status`, `lion run`'s summary, the demo's report, the budget check and the dashboard all call
this module. A `TotalsReader` kept between reads (the dashboard's, every second) reads only rows
added since the last one; a fresh one reads everything: both return the same totals."""

from __future__ import annotations

import sqlite3

from lion_cli.core.totals import RoleTotals, RunTotals
from lion_cli.store.db import Store
from lion_cli.store.tallies import RowCounter

RATE_SAMPLE = 100   # a role's request rate is measured over its latest paid requests, this many

_USAGE_COLUMNS = ("calls", "cached", "prompt_tokens", "completion_tokens", "cost_usd", "retries", "rate_limited",
                  "failed")


def role_totals(store: Store) -> dict[str, RoleTotals]:
    """Per role: calls, cache hits, paid tokens, dollars, retries, 429s, failures. Read from the
    trigger-kept api_usage table (migration 0003); a store older than it, opened read-only, has
    none, and its api_calls are summed instead."""
    try:
        rows = store.query("SELECT * FROM api_usage ORDER BY role")
    except sqlite3.OperationalError:  # no such table
        rows = store.query(
            "SELECT role, COUNT(*) AS calls, SUM(cached) AS cached, SUM(prompt_tokens) AS prompt_tokens,"
            " SUM(completion_tokens) AS completion_tokens,"
            " SUM(CASE WHEN cached = 0 THEN cost_usd ELSE 0 END) AS cost_usd, SUM(retries) AS retries,"
            " SUM(rate_limited) AS rate_limited, SUM(1 - ok) AS failed FROM api_calls GROUP BY role ORDER BY role")
    return {r["role"]: RoleTotals(*(r[c] or 0 for c in _USAGE_COLUMNS)) for r in rows}


def spent_usd(store: Store) -> float:
    """Dollars paid so far by this project, all runs together (cache hits cost nothing)."""
    return sum(u.cost_usd for u in role_totals(store).values())


def request_rates(store: Store, roles: list[str]) -> dict[str, float]:
    """Paid requests per second per role, over its latest RATE_SAMPLE paid requests (the api_calls
    (role, ts) index: a bounded read however fast the run goes). A role with fewer than two has none."""
    out: dict[str, float] = {}
    for role in roles:
        n, first, last = store.query(
            "SELECT COUNT(*), MIN(ts), MAX(ts) FROM (SELECT ts FROM api_calls WHERE role = ? AND cached = 0"
            " ORDER BY ts DESC LIMIT ?)", (role, RATE_SAMPLE))[0]
        if n >= 2 and last > first:
            out[role] = (n - 1) / (last - first)
    return out


def iteration_position(store: Store) -> tuple[int, int]:
    """(iterations done, the first iteration not done)."""
    rows = store.query("SELECT iteration, status FROM iterations ORDER BY iteration")
    done = [r["iteration"] for r in rows if r["status"] == "done"]
    pending = [r["iteration"] for r in rows if r["status"] != "done"]
    return len(done), pending[0] if pending else (max(done) + 1 if done else 0)


class TotalsReader:
    """Reads RunTotals; keep one to read again cheaply (counts grow by the rows added since)."""

    def __init__(self) -> None:
        self._instructions = RowCounter("instructions")
        self._teacher = RowCounter("responses", where="role = 'teacher'")
        self._judgements = RowCounter("judgements", "iteration")
        self._retries = RowCounter("judgements", where="attempt > 0")
        self._cache_sizes: dict[int, int] = {}
        self._finished_candidates: dict[int, tuple[int, int]] = {}   # iteration → (accepted, all)
        self._finished_below = 0

    def read(self, store: Store) -> RunTotals:
        """Call inside one read transaction, so every number is of the same moment."""
        done, cur = iteration_position(store)
        for counter in (self._instructions, self._teacher, self._judgements, self._retries):
            counter.read(store)
        # The current Cache Pool holds every instruction so far, and the teacher answers nothing
        # outside it: what it has not answered yet is the difference (answers under other teacher
        # settings count as answered).
        cache = self._cache_size(store, cur)
        candidates = self._candidates(store, cur)
        retries = self._retries.total()
        roles = role_totals(store)
        return RunTotals(
            roles=roles, iterations_done=done, iteration=cur, cache_size=cache,
            instructions=self._instructions.total(), teacher_missing=max(cache - self._teacher.total(), 0),
            referee_done=self._judgements.counts.get(cur, 0), referee_first=self._judgements.total() - retries,
            referee_retries=retries, generator_done=candidates.get(cur, (0, 0))[1],
            accepted=sum(a for a, _ in candidates.values()), generated=sum(n for _, n in candidates.values()),
            request_rates=request_rates(store, list(roles)))

    def _cache_size(self, store: Store, iteration: int) -> int:
        """An iteration's Cache Pool is written whole before the iteration becomes the current one
        (by `lion init`, or the previous generation stage), so it is counted once."""
        if iteration not in self._cache_sizes:
            self._cache_sizes[iteration] = int(store.scalar(
                "SELECT COUNT(*) FROM pool_members WHERE iteration = ? AND pool = 'cache'", (iteration,)) or 0)
        return self._cache_sizes[iteration]

    def _candidates(self, store: Store, current: int) -> dict[int, tuple[int, int]]:
        """(accepted, all) candidates per iteration. A finished iteration's never change: they are
        kept, and only the iterations from the current one on are read again."""
        out = dict(self._finished_candidates)
        for it, accepted, n in store.query(
                "SELECT iteration, accepted, COUNT(*) FROM candidates WHERE iteration >= ?"
                " GROUP BY iteration, accepted", (self._finished_below,)):
            a, total = out.get(it, (0, 0))
            out[it] = (a + (n if accepted else 0), total + n)
        self._finished_candidates = {it: v for it, v in out.items() if it < current}
        self._finished_below = max(self._finished_below, current)
        return out


def read_totals(store: Store) -> RunTotals:
    """A fresh read of the run's totals (one transaction)."""
    with store.read():
        return TotalsReader().read(store)
