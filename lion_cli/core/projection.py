"""Projected API requests and dollars for the rest of a run (pure arithmetic over counts).

The model of the work: each remaining iteration asks the teacher once per new instruction (the
Cache Pool's older members are already answered), the referee twice per Cache Pool member (both
orders, plus retries at the observed rate), and the generator new_per_iteration ÷ acceptance-rate
times. Costs per request are the observed means per role, or a price-based guess before any call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectionInput:
    iterations: int                  # planned iterations in total
    iterations_done: int             # fully finished iterations
    cache_size: int                  # Cache Pool size of the current (first unfinished) iteration
    new_per_iteration: int
    teacher_missing: int             # current pools' members without a teacher answer
    referee_done_this_iteration: int
    generator_done_this_iteration: int
    acceptance_rate: float           # accepted ÷ generator calls so far (0 if unknown)
    referee_retry_rate: float        # extra referee calls per pair so far
    cost_per_call: dict[str, float]  # mean observed $ per request, per role
    spent_usd: float


@dataclass(frozen=True)
class Projection:
    remaining_calls: dict[str, int]
    remaining_usd: float
    total_usd: float


def project(p: ProjectionInput) -> Projection:
    left = max(p.iterations - p.iterations_done, 0)
    accept = p.acceptance_rate if p.acceptance_rate > 0 else 0.5
    calls = {"teacher": p.teacher_missing, "referee": 0, "generator": 0}
    cache = p.cache_size
    for k in range(left):
        pairs = 2 * cache * (1 + p.referee_retry_rate)
        gen = p.new_per_iteration / accept
        if k == 0:
            pairs = max(pairs - p.referee_done_this_iteration, 0)
            gen = max(gen - p.generator_done_this_iteration, 0)
        calls["referee"] += round(pairs)
        calls["generator"] += round(gen)
        if k < left - 1:  # the next iteration's new instructions need teacher answers
            calls["teacher"] += p.new_per_iteration
        cache += p.new_per_iteration
    usd = sum(calls[r] * p.cost_per_call.get(r, 0.0) for r in calls)
    return Projection(calls, usd, p.spent_usd + usd)
