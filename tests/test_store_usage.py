"""The trigger-kept api_usage totals (migrations 0003, 0007) always equal the sums over api_calls (a row
per attempt: the final rows are the calls), and the run's totals (store/totals.py) are read from there."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from lion_cli.core.api import CallRecord
from lion_cli.store.api_log import StoreCallLog
from lion_cli.store.db import open_store

SUMS = ("SELECT role, SUM(final), SUM(cached), SUM(prompt_tokens), SUM(completion_tokens),"
        " ROUND(SUM(CASE WHEN cached=0 THEN cost_usd ELSE 0 END), 9), SUM(retries), SUM(rate_limited),"
        " SUM(final * (1-ok)), SUM(1-cached) FROM api_calls GROUP BY role ORDER BY role")
TOTALS = ("SELECT role, calls, cached, prompt_tokens, completion_tokens, ROUND(cost_usd, 9), retries, rate_limited,"
          " failed, attempts FROM api_usage ORDER BY role")


def _calls(n: int, seed: int) -> list[CallRecord]:
    """Records as the engine writes them: a cache hit, or an attempt (a retry counts itself), the last
    attempt of a call final."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        cached, attempt = rng.random() < 0.2, rng.randint(1, 3)
        final = cached or rng.random() < 0.7
        ok = final and rng.random() > 0.1
        out.append(CallRecord(ts=float(i), role=rng.choice(["teacher", "referee", "generator"]), model="m",
                              base_url="http://x", cache_key=f"k{i}", status=200 if ok else 503, ok=ok,
                              cached=cached, latency_s=0.1, prompt_tokens=rng.randint(0, 900) if ok else 0,
                              completion_tokens=rng.randint(0, 300) if ok else 0,
                              cost_usd=rng.random() / 100 if ok else 0.0, retries=int(attempt > 1 and not cached),
                              rate_limited=int(not ok and rng.random() < 0.5), attempt=0 if cached else attempt,
                              final=final))
    return out


def test_totals_follow_every_insert(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        log = StoreCallLog(store)
        for rec in _calls(300, 1):
            log.record(rec)
        assert store.query(TOTALS) and [tuple(r) for r in store.query(TOTALS)] == [
            tuple(r) for r in store.query(SUMS)]
        assert store.scalar("SELECT MAX(last_call_id) FROM api_usage") == store.scalar("SELECT MAX(id) FROM api_calls")


def test_totals_are_read_from_api_usage(tmp_path: Path) -> None:
    from lion_cli.store.totals import role_totals

    with open_store(tmp_path / "lion.db") as store:
        log = StoreCallLog(store)
        for rec in _calls(200, 2):
            log.record(rec)
        # Make the totals disagree with api_calls on purpose: the read must come from api_usage.
        store.conn.execute("UPDATE api_usage SET calls = calls + 1000 WHERE role='teacher'")
        roles = role_totals(store)
        n_teacher = store.scalar("SELECT SUM(final) FROM api_calls WHERE role='teacher'")
        assert roles["teacher"].calls == n_teacher + 1000
        # A later read sees the new rows.
        before = sum(u.calls for u in role_totals(store).values())
        log.record(replace(_calls(1, 3)[0], final=True))
        assert sum(u.calls for u in role_totals(store).values()) == before + 1 == store.scalar(
            "SELECT SUM(final) FROM api_calls") + 1000


def test_a_store_without_api_usage_sums_api_calls(tmp_path: Path) -> None:
    """A store older than migration 0003, opened read-only (never migrated), has no api_usage."""
    from lion_cli.store.totals import role_totals

    with open_store(tmp_path / "lion.db") as store:
        log = StoreCallLog(store)
        for rec in _calls(50, 4):
            log.record(rec)
        expected = role_totals(store)
        store.conn.execute("DROP TRIGGER api_usage_add")
        store.conn.execute("DROP TABLE api_usage")
    with open_store(tmp_path / "lion.db", readonly=True) as old:
        got = role_totals(old)
    assert got.keys() == expected.keys()
    for role, u in expected.items():
        assert (got[role].calls, got[role].prompt_tokens, got[role].failed, got[role].attempts) == (
            u.calls, u.prompt_tokens, u.failed, u.attempts)
        assert abs(got[role].cost_usd - u.cost_usd) < 1e-9
