"""Projected API requests, dollars and time for the rest of a run (pure arithmetic over RunTotals).

The model of the work left: each remaining iteration asks the teacher once per new instruction (the
Cache Pool's older members are already answered), the referee twice per Cache Pool member (both
orders, plus retries at the rate seen so far), and the generator new_per_iteration ÷ acceptance
rate times; the last iteration's new instructions are answered for the final imitation; with [preference]
online, the referee's online rounds of every imitation still ahead, counted as `lion plan` counts
them (core/online_plan.py); what the current iteration already did is subtracted. A request costs what the role's
paid requests cost on average so far, or, before its first one, the endpoint's prices × the
assumed request size (core/totals.py).

The API ETA: each role's remaining requests at its measured request rate, or, before it has one, at
the most its rpm/tpm limits let through as the limiter counts them (core/throughput.py) — an upper
bound on speed, so that ETA is a lower bound. core/eta.py adds the student's training and sampling."""

from __future__ import annotations

from dataclasses import dataclass

from lion_cli.core.online_plan import online_referee_calls
from lion_cli.core.throughput import throughput
from lion_cli.core.totals import API_ROLE_NAMES, EndpointPlan, RoleTotals, RunPlan, RunTotals

DEFAULT_ACCEPTANCE = 0.5   # before the generator's first candidate


@dataclass(frozen=True)
class Projection:
    remaining_calls: dict[str, int]
    cost_per_call: dict[str, float]
    remaining_usd: float
    total_usd: float
    eta_s: float | None            # the remaining API work; None when a role's rate is unknown
    eta_measured: bool             # True when every role with work left has a measured rate


def remaining_calls(t: RunTotals, plan: RunPlan) -> dict[str, int]:
    left = max(plan.iterations - t.iterations_done, 0)
    final_left = t.iterations_done <= plan.iterations   # the final imitation (iteration `iterations`) is not done
    calls = {"teacher": t.teacher_missing if final_left else 0, "referee": 0, "generator": 0}
    accept = t.accepted / t.generated if t.generated and t.accepted else DEFAULT_ACCEPTANCE
    retry_rate = t.referee_retries / t.referee_first if t.referee_first else 0.0
    cache = t.cache_size
    for k in range(left):
        pairs = 2 * cache * (1 + retry_rate)
        gen = plan.new_per_iteration / accept
        if k == 0:
            pairs = max(pairs - t.referee_done, 0)
            gen = max(gen - t.generator_done, 0)
        calls["referee"] += round(pairs)
        calls["generator"] += round(gen)
        # The next iteration's new instructions need teacher answers (the last one's: for the final imitation).
        calls["teacher"] += plan.new_per_iteration
        cache += plan.new_per_iteration
    calls["referee"] += online_referee_calls(
        plan.online, t.online, current=t.iteration, iterations=plan.iterations, cache=t.cache_size,
        previous_cache=t.previous_cache_size, new_per_iteration=plan.new_per_iteration, retry_rate=retry_rate)
    return calls


def cost_per_call(usage: RoleTotals, endpoint: EndpointPlan | None) -> float:
    """Mean dollars per paid request so far, or the expected price of one before the first."""
    if usage.paid > 0:
        return usage.cost_usd / usage.paid
    return endpoint.expected_cost_usd if endpoint is not None else 0.0


def request_rate(t: RunTotals, role: str, endpoint: EndpointPlan | None) -> float | None:
    """Requests per second: measured when there is a rate, else the most the limits allow."""
    measured = t.request_rates.get(role)
    if measured:
        return measured
    if endpoint is None:
        return None
    per_minute = throughput(role, endpoint, t.reserved_per_request.get(role)).max_per_minute
    return per_minute / 60.0 if per_minute > 0 else None


def eta_seconds(t: RunTotals, plan: RunPlan, calls: dict[str, int]) -> tuple[float | None, bool]:
    """(seconds of API work left, whether every rate used was measured). The stages run one after
    another, so the roles' times add up."""
    total, measured = 0.0, True
    for role, n in calls.items():
        if n <= 0:
            continue
        rate = request_rate(t, role, plan.endpoints.get(role))
        if rate is None:
            return None, False
        measured = measured and bool(t.request_rates.get(role))
        total += n / rate
    return total, measured


def project(t: RunTotals, plan: RunPlan) -> Projection:
    calls = remaining_calls(t, plan)
    per_call = {r: cost_per_call(t.role(r), plan.endpoints.get(r)) for r in API_ROLE_NAMES}
    usd = sum(calls[r] * per_call[r] for r in calls)
    eta, measured = eta_seconds(t, plan, calls)
    return Projection(calls, per_call, usd, t.spent_usd + usd, eta, measured)
