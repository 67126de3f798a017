"""The one read of the store that every total, projection and ETA comes from (core/totals.py).

`lion status`, `lion run`'s summary, the demo's report, the budget check and the dashboard all call
this module. A `TotalsReader` kept between reads (the dashboard's, every second) reads only rows
added since the last one; a fresh one reads everything: both return the same totals."""

from __future__ import annotations

import sqlite3

from lion_cli.core.throughput import MinuteUsage
from lion_cli.core.totals import RoleTotals, RunTotals
from lion_cli.store.db import Store
from lion_cli.store.online_totals import OnlineProgressReader
from lion_cli.store.student_work import StudentWorkReader
from lion_cli.store.tallies import RowCounter

RATE_SAMPLE = 100   # a role's request rate is measured over its latest paid requests, this many

_USAGE_COLUMNS = ("calls", "cached", "prompt_tokens", "completion_tokens", "cost_usd", "retries", "rate_limited",
                  "failed", "attempts", "possibly_billed")
# Requests sent, where no attempts column counts them (rows that each hold a whole call, retries folded in).
_FOLDED_ATTEMPTS = "CASE WHEN cached = 0 THEN 1 + retries ELSE 0 END"


def _column(store: Store, name: str, stand_in: str) -> str:
    """An api_calls column a later migration added, or the SQL that stands in for it in a store older
    than that migration, opened read-only (never migrated)."""
    columns = {r[1] for r in store.query("PRAGMA table_info(api_calls)")}
    return name if name in columns else stand_in


def role_totals(store: Store) -> dict[str, RoleTotals]:
    """Per role: calls, cache hits, paid tokens, dollars, retries, 429s, failed calls, requests sent.
    Read from the trigger-kept api_usage table (migrations 0003, 0007); a store older than it, opened
    read-only, has none, and its api_calls are summed instead (a row per attempt since 0007: the
    final rows are the calls)."""
    try:
        rows = store.query("SELECT * FROM api_usage ORDER BY role")
    except sqlite3.OperationalError:  # no such table
        final = _column(store, "final", "1")
        attempts = "1 - cached" if final == "final" else _FOLDED_ATTEMPTS
        rows = store.query(
            f"SELECT role, SUM({final}) AS calls, SUM(cached) AS cached, SUM(prompt_tokens) AS prompt_tokens,"
            " SUM(completion_tokens) AS completion_tokens,"
            " SUM(CASE WHEN cached = 0 THEN cost_usd ELSE 0 END) AS cost_usd, SUM(retries) AS retries,"
            f" SUM(rate_limited) AS rate_limited, SUM({final} * (1 - ok)) AS failed, SUM({attempts}) AS attempts"
            " FROM api_calls GROUP BY role ORDER BY role")
    return {r["role"]: _usage(r) for r in rows}


def _usage(row: sqlite3.Row) -> RoleTotals:
    present = set(row.keys())   # not `c in row`: a Row's `in` looks among its values
    values = {c: row[c] or 0 for c in _USAGE_COLUMNS if c in present}
    if "attempts" not in values:  # api_usage from before migration 0007: every paid call and its retries
        values["attempts"] = values["calls"] - values["cached"] + values["retries"]
    return RoleTotals(**values)


def spent_usd(store: Store) -> float:
    """Dollars paid so far by this project, all runs together (cache hits cost nothing)."""
    return sum(u.cost_usd for u in role_totals(store).values())


def _reserved(store: Store) -> str:
    """The api_calls column of the limiter's reservations (migration 0005); a store older than it,
    opened read-only, has none: 0 stands in (nothing measured)."""
    return _column(store, "reserved_tokens", "0")


def request_rates(store: Store, roles: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Per role, over its latest RATE_SAMPLE paid requests (the api_calls (role, ts) index: a bounded
    read however fast the run goes): paid requests per second (a role with fewer than two has none),
    and the mean tokens the limiter reserved per request (none before the first reservation)."""
    rates: dict[str, float] = {}
    reserved: dict[str, float] = {}
    column, final = _reserved(store), _column(store, "final", "1")
    for role in roles:
        # The final rows: a call retried three times is one request done, not four.
        n, first, last, mean_reserved = store.query(
            f"SELECT COUNT(*), MIN(ts), MAX(ts), AVG(NULLIF(r, 0)) FROM (SELECT ts, {column} AS r FROM api_calls"
            f" WHERE role = ? AND cached = 0 AND {final} = 1 ORDER BY ts DESC LIMIT ?)", (role, RATE_SAMPLE))[0]
        if n >= 2 and last > first:
            rates[role] = (n - 1) / (last - first)
        if mean_reserved:
            reserved[role] = float(mean_reserved)
    return rates, reserved


def last_minute(store: Store, roles: list[str], now: float) -> dict[str, MinuteUsage]:
    """Per role: the paid requests that finished in the minute before `now`, with the tokens they used
    and the tokens the limiter reserved for them (the (role, ts) index)."""
    column = _reserved(store)
    out: dict[str, MinuteUsage] = {}
    for role in roles:
        n, used, reserved = store.query(
            f"SELECT COUNT(*), SUM(prompt_tokens + completion_tokens), SUM({column}) FROM api_calls"
            " WHERE role = ? AND ts > ? AND ts <= ? AND cached = 0", (role, now - 60.0, now))[0]
        out[role] = MinuteUsage(int(n or 0), int(used or 0), int(reserved or 0))
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
        self._student = StudentWorkReader()
        self._online = OnlineProgressReader()
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
        rates, reserved = request_rates(store, list(roles))
        return RunTotals(
            roles=roles, iterations_done=done, iteration=cur, cache_size=cache,
            # the Cache Pool before the last generation's accepted instructions joined it (no extra count)
            previous_cache_size=max(cache - candidates.get(cur - 1, (0, 0))[0], 0) if cur > 0 else 0,
            instructions=self._instructions.total(), teacher_missing=max(cache - self._teacher.total(), 0),
            referee_done=self._judgements.counts.get(cur, 0), referee_first=self._judgements.total() - retries,
            referee_retries=retries, generator_done=candidates.get(cur, (0, 0))[1],
            accepted=sum(a for a, _ in candidates.values()), generated=sum(n for _, n in candidates.values()),
            request_rates=rates, reserved_per_request=reserved, student=self._student.read(store, cur),
            online=self._online.read(store, cur))

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
