"""What a run has used so far and the settings it is measured against, as plain data.

`RunTotals` is one read of the store (store/totals.py); `RunPlan` is the part of the settings the
totals are projected with (prices, token limits, rate limits, iterations). core/projection.py turns
the two into the projected cost and the ETA, so every place that shows a number computes it alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lion_cli.core.api import request_reservation
from lion_cli.core.online_plan import OnlineProgress, OnlineRounds, online_rounds_from
from lion_cli.core.prices import AUTO, Price, resolve_prices
from lion_cli.core.types import API_ROLES

API_ROLE_NAMES: tuple[str, ...] = tuple(r.value for r in API_ROLES)

# Before a role's first paid request its size is unknown: assume this many prompt tokens and a
# completion of half the endpoint's max_tokens (a reply rarely runs to the cap).
ASSUMED_PROMPT_TOKENS = 200
ASSUMED_COMPLETION_SHARE = 0.5


@dataclass(frozen=True)
class RoleTotals:
    """One API role's logical calls (cache hits included), paid tokens and dollars, and the requests
    sent to make them (`attempts`: every try, a failed one or one given up on in flight too)."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0       # paid calls only: a cache hit costs nothing
    retries: int = 0
    rate_limited: int = 0       # 429s seen while making the calls
    failed: int = 0             # calls that ended failed (after their retries)
    attempts: int = 0           # requests sent: paid calls + retries + any abandoned in flight
    possibly_billed: int = 0    # requests given up on after the server had them (it may have answered)

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
    def expected_reservation(self) -> int:
        """What the limiter reserves for a request of the assumed size (core/api.py)."""
        return request_reservation(self.expected_prompt_tokens, self.max_tokens)

    @property
    def expected_cost_usd(self) -> float:
        """The price of one request of the assumed size."""
        return (self.expected_prompt_tokens * self.price_input_per_1k
                + self.expected_completion_tokens * self.price_output_per_1k) / 1000


@dataclass(frozen=True)
class TrainingPlan:
    """The [student] settings that size a training job: optimizer steps = examples × epochs ÷ batch."""

    train_from: str = "base"        # loop.train_from: base (every Train Pool so far) | previous (this one's)
    epochs: float = 3.0
    global_batch_size: int = 128


@dataclass(frozen=True)
class RunPlan:
    """The settings a run's numbers are read against (from lion.toml, or a run's recorded settings),
    with `iterations` as the run plans them (core/run_state.py planned_iterations)."""

    iterations: int
    new_per_iteration: int
    endpoints: dict[str, EndpointPlan]
    budget_usd: float = 0.0     # 0: no cap
    tau: float | None = None
    training: TrainingPlan = field(default_factory=TrainingPlan)
    online: OnlineRounds = field(default_factory=OnlineRounds)   # [preference] online; rounds 0: off


def _section(cfg: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = cfg.get(name)
    return part if isinstance(part, Mapping) else {}


def _endpoint(part: Mapping[str, Any]) -> EndpointPlan | None:
    try:
        prices = resolve_prices(str(part.get("base_url") or ""), str(part.get("model") or ""),
                                _price(part["price_input_per_1k"]), _price(part["price_output_per_1k"]))
        return EndpointPlan(prices.input_per_1k, prices.output_per_1k,
                            int(part["max_tokens"]), int(part["rpm"]), int(part["tpm"]))
    except (KeyError, TypeError, ValueError):
        return None


def _price(value: Any) -> Price:
    """A recorded price: "auto" (resolved by host and model) or a number."""
    return AUTO if value == AUTO else float(value)


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
                   float(tau) if isinstance(tau, int | float) else None, _training(loop, _section(cfg, "student")),
                   online_rounds_from(_section(cfg, "preference")))


def _training(loop: Mapping[str, Any], student: Mapping[str, Any]) -> TrainingPlan:
    default = TrainingPlan()
    epochs, batch = student.get("epochs", default.epochs), student.get("global_batch_size", default.global_batch_size)
    return TrainingPlan(str(loop.get("train_from") or default.train_from),
                        float(epochs) if isinstance(epochs, int | float) and epochs > 0 else default.epochs,
                        int(batch) if isinstance(batch, int) and batch > 0 else default.global_batch_size)


@dataclass(frozen=True)
class StudentWork:
    """The student's side of the current iteration and how fast its jobs have gone (store/student_work.py)."""

    train_pool_sizes: dict[int, int] = field(default_factory=dict)  # iteration → Train Pool, up to the current
    trained: bool = False                       # the current iteration's student is trained
    train_job: tuple[int, int] | None = None    # (step, total_steps) of the current iteration's training job
    seconds_per_step: float | None = None       # measured: median over the loop's training metrics
    answered: int = 0                           # the current iteration's student answers
    rows_per_s: float | None = None             # measured: the finished student generation jobs


@dataclass(frozen=True)
class RunTotals:
    """Everything the totals, the projection and the ETA need, read at one moment of the store."""

    roles: dict[str, RoleTotals] = field(default_factory=dict)
    iterations_done: int = 0      # iterations whose three stages are done
    iteration: int = 0            # the first iteration not done (where the run is, or resumes)
    cache_size: int = 0           # that iteration's Cache Pool
    previous_cache_size: int = 0  # the Cache Pool of the iteration before it (0 at iteration 0)
    instructions: int = 0         # in the store, all iterations
    teacher_missing: int = 0      # members of that Cache Pool without a teacher answer
    referee_done: int = 0         # referee requests (verdict rows, retries included) of that iteration
    referee_first: int = 0        # verdicts at attempt 0, all iterations
    referee_retries: int = 0      # verdicts at attempt > 0, all iterations
    generator_done: int = 0       # generator requests (candidates) of that iteration
    accepted: int = 0             # candidates accepted, all iterations
    generated: int = 0            # candidates, all iterations
    request_rates: dict[str, float] = field(default_factory=dict)   # measured paid requests/s per role
    reserved_per_request: dict[str, float] = field(default_factory=dict)   # measured mean reservation per role
    student: StudentWork = field(default_factory=StudentWork)
    online: OnlineProgress = field(default_factory=OnlineProgress)

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
