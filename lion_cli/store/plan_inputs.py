"""What `lion plan` measures in a project: pool sizes as written, each role's mean tokens per paid request,
the generator's acceptance and the referee's retry rate (core/plan.py does the arithmetic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lion_cli.core.plan import RequestSize
from lion_cli.store.db import Store

# A structured-replies probe is recorded like any attempt, with no request key (llm/engine.py).
_PROBE = "(cache_key IS NULL OR cache_key = '')"
_SENT = f"FROM api_calls WHERE cached = 0 AND NOT {_PROBE}"


@dataclass(frozen=True)
class Measured:
    seeds: int
    cache_sizes: dict[int, int] = field(default_factory=dict)
    train_sizes: dict[int, int] = field(default_factory=dict)
    sizes: dict[str, RequestSize] = field(default_factory=dict)
    acceptance: float | None = None
    referee_retry_rate: float | None = None
    probes: dict[str, int] = field(default_factory=dict)
    hard_shares: dict[int, float] = field(default_factory=dict)


def pool_sizes(store: Store) -> tuple[dict[int, int], dict[int, int]]:
    """(Cache Pool, Train Pool) sizes by iteration, for the iterations whose pools are written."""
    sizes: dict[str, dict[int, int]] = {"cache": {}, "train": {}}
    for it, pool, n in store.query("SELECT iteration, pool, COUNT(*) FROM pool_members GROUP BY iteration, pool"):
        sizes.setdefault(pool, {})[int(it)] = int(n)
    return sizes["cache"], sizes["train"]


def request_sizes(store: Store) -> dict[str, RequestSize]:
    """Mean prompt and completion tokens per answered request (probes aside), for the roles with any."""
    rows = store.query(f"SELECT role, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) {_SENT} AND ok = 1"
                       " GROUP BY role")
    return {role: RequestSize(prompt / n, completion / n, True) for role, n, prompt, completion in rows
            if prompt + completion > 0}


def probes(store: Store) -> dict[str, int]:
    """Structured-replies probes sent so far, by the role that sent them (the answer is remembered per
    endpoint, so a role sharing an endpoint that was probed sends none)."""
    return {role: int(n) for role, n in store.query(
        f"SELECT role, COUNT(*) FROM api_calls WHERE cached = 0 AND {_PROBE} GROUP BY role")}


def rates(store: Store) -> tuple[float | None, float | None]:
    """(accepted candidates ÷ generator requests sent, referee retries ÷ first verdicts); None where
    there is nothing yet. The generator is asked a window at a time, so some replies arrive after the
    quota is met and are never decided: acceptance is counted per request, not per candidate."""
    accepted = int(store.scalar("SELECT COALESCE(SUM(accepted), 0) FROM candidates") or 0)
    sent = int(store.scalar(f"SELECT COUNT(*) {_SENT} AND role = 'generator'") or 0)
    retries, first = store.query("SELECT COALESCE(SUM(attempt > 0), 0), COALESCE(SUM(attempt = 0), 0)"
                                 " FROM judgements")[0]
    acceptance = accepted / sent if sent and accepted else None
    return acceptance, (retries / first if first else None)


def hard_shares(store: Store, only: Sequence[int] | None = None) -> dict[int, float]:
    """Hard ÷ labelled instructions, by iteration, for the iterations whose discrimination labelled any
    (`only`: of these iterations alone, each found by the labels' key: no other iteration's rows are read)."""
    where = "" if only is None else f" WHERE iteration IN ({','.join('?' * len(only))})"
    return {int(it): hard / n for it, hard, n in store.query(
        f"SELECT iteration, SUM(label = 'hard'), COUNT(*) FROM labels{where} GROUP BY iteration", list(only or ()))
        if n}


def measured(store: Store) -> Measured:
    """One read of the store for the plan."""
    with store.read():
        cache, train = pool_sizes(store)
        acceptance, retry_rate = rates(store)
        return Measured(cache.get(0, 0), cache, train, request_sizes(store), acceptance, retry_rate, probes(store),
                        hard_shares(store))
