"""What a run has used so far and the settings it is measured against, as plain data.

`RunTotals` is one read of the store (store/totals.py); `RunPlan` is the part of the settings the
totals are projected with (prices, token limits, rate limits, iterations). core/projection.py turns
the two into the projected cost and the ETA, so every place that shows a number computes it alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lion_cli.core.types import API_ROLES

API_ROLE_NAMES: tuple[str, ...] = tuple(r.value for r in API_ROLES)

# Before a role's first paid request its size is unknown: assume this many prompt tokens and a
# completion of half the endpoint's max_tokens (a reply rarely runs to the cap).
ASSUMED_PROMPT_TOKENS = 200
ASSUMED_COMPLETION_SHARE = 0.5


@dataclass(frozen=True)
class RoleTotals:
    """One API role's logical calls (cache hits included), paid tokens and dollars."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0       # paid calls only: a cache hit costs nothing
    retries: int = 0
    rate_limited: int = 0       # 429s seen while making the calls
    failed: int = 0

    @property
    def paid(self) -> int:
        return self.calls - self.cached

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class EndpointPlan:
    price_input_per_1k: float
    price_output_per_1k: float
    max_tokens: int
    rpm: int
    tpm: int

    @property
    def expected_prompt_tokens(self) -> float:
        return float(ASSUMED_PROMPT_TOKENS)

    @property
    def expected_completion_tokens(self) -> float:
        return self.max_tokens * ASSUMED_COMPLETION_SHARE

    @property
    def expected_cost_usd(self) -> float:
        """The price of one request of the assumed size."""
        return (self.expected_prompt_tokens * self.price_input_per_1k
                + self.expected_completion_tokens * self.price_output_per_1k) / 1000


@dataclass(frozen=True)
class RunPlan:
    """The settings a run's numbers are read against (from lion.toml, or a run's recorded settings)."""

    iterations: int
    new_per_iteration: int
    endpoints: dict[str, EndpointPlan]
    budget_usd: float = 0.0     # 0: no cap
    tau: float | None = None


def _section(cfg: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = cfg.get(name)
    return part if isinstance(part, Mapping) else {}


def _endpoint(part: Mapping[str, Any]) -> EndpointPlan | None:
    try:
        return EndpointPlan(float(part["price_input_per_1k"]), float(part["price_output_per_1k"]),
                            int(part["max_tokens"]), int(part["rpm"]), int(part["tpm"]))
    except (KeyError, TypeError, ValueError):
        return None


def plan_from_settings(cfg: Mapping[str, Any]) -> RunPlan | None:
    """A plan from a settings mapping (`Settings.model_dump()` or a run's settings_json); None when
    the loop's size is not in it. An endpoint missing a price or limit is left out of the plan."""
    loop = _section(cfg, "loop")
    try:
        iterations, new = int(loop["iterations"]), int(loop["new_per_iteration"])
    except (KeyError, TypeError, ValueError):
        return None
    endpoints = {role: ep for role in API_ROLE_NAMES if (ep := _endpoint(_section(cfg, role))) is not None}
    budget = _section(cfg, "budget").get("max_usd")
    tau = loop.get("tau")
    return RunPlan(iterations, new, endpoints, float(budget) if isinstance(budget, int | float) else 0.0,
                   float(tau) if isinstance(tau, int | float) else None)


@dataclass(frozen=True)
class RunTotals:
    """Everything the totals, the projection and the ETA need, read at one moment of the store."""

    roles: dict[str, RoleTotals] = field(default_factory=dict)
    iterations_done: int = 0      # iterations whose three stages are done
    iteration: int = 0            # the first iteration not done (where the run is, or resumes)
    cache_size: int = 0           # that iteration's Cache Pool
    instructions: int = 0         # in the store, all iterations
    teacher_missing: int = 0      # members of that Cache Pool without a teacher answer
    referee_done: int = 0         # referee requests (verdict rows, retries included) of that iteration
    referee_first: int = 0        # verdicts at attempt 0, all iterations
    referee_retries: int = 0      # verdicts at attempt > 0, all iterations
    generator_done: int = 0       # generator requests (candidates) of that iteration
    accepted: int = 0             # candidates accepted, all iterations
    generated: int = 0            # candidates, all iterations
    request_rates: dict[str, float] = field(default_factory=dict)   # measured paid requests/s per role

    def role(self, name: str) -> RoleTotals:
        return self.roles.get(name) or RoleTotals()

    @property
    def spent_usd(self) -> float:
        return sum(u.cost_usd for u in self.roles.values())

    @property
    def calls(self) -> int:
        return sum(u.calls for u in self.roles.values())

    @property
    def tokens(self) -> int:
        return sum(u.tokens for u in self.roles.values())
