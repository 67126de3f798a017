"""`lion plan`: what a whole run as configured will send, before it sends anything (pure arithmetic).

The model of the loop (pipeline/): iteration t's imitation asks the teacher once per Train Pool member
(the seeds at t = 0, the previous iteration's new instructions after), so its discrimination finds the
whole Cache Pool answered already; the referee judges every Cache Pool member twice (both orders), plus
its retries of unreadable replies; the generator is asked until new_per_iteration candidates are
accepted, new ÷ acceptance times, at most new × max_attempts_factor. The Cache Pool grows by the new
instructions each iteration. After the last generation the final imitation needs teacher answers only
for the last iteration's new instructions (everything older is answered), listed on its own line. With
[preference] online, each online round of an imitation has the referee score k samples per prompt in both
orders; the prompts are the previous discrimination's hard instructions (or its Cache Pool).

Each request is sized by the role's measured mean tokens per paid request where the project has some,
else by an assumed size (stated in `assumed`); it is priced online and through the batch API."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lion_cli.core.api import EndpointSpec, request_reservation
from lion_cli.core.online_plan import DEFAULT_HARD_SHARE, OnlineRounds, online_requests
from lion_cli.core.throughput import Throughput
from lion_cli.core.totals import ASSUMED_COMPLETION_SHARE, ASSUMED_PROMPT_TOKENS

DEFAULT_ACCEPTANCE = 0.5    # before the generator's first candidate
FINAL_STAGE = "final imitation"
STRUCTURED_ROLES = ("referee", "generator")   # the roles that ask for JSON replies, in the order they first ask


@dataclass(frozen=True)
class RequestSize:
    """Mean tokens of one paid request of a role."""

    prompt_tokens: float
    completion_tokens: float
    measured: bool = True     # False: the assumed size (assumed_size)


@dataclass(frozen=True)
class PlanInputs:
    """The settings and what the project has measured so far (store/plan_inputs.py reads the latter)."""

    seeds: int
    iterations: int
    new_per_iteration: int
    max_attempts_factor: float
    endpoints: dict[str, EndpointSpec]
    measured_sizes: dict[str, RequestSize] = field(default_factory=dict)
    cache_sizes: dict[int, int] = field(default_factory=dict)    # iteration → Cache Pool, where written
    train_sizes: dict[int, int] = field(default_factory=dict)    # iteration → Train Pool, where written
    acceptance: float | None = None        # accepted candidates ÷ generator requests so far
    referee_retry_rate: float | None = None  # referee retries ÷ first attempts so far
    probes: dict[str, int] = field(default_factory=dict)   # structured-replies probes sent, by role
    online: OnlineRounds = field(default_factory=OnlineRounds)
    hard_shares: dict[int, float] = field(default_factory=dict)  # iteration → hard ÷ labelled, where labelled


@dataclass(frozen=True)
class PlanLine:
    iteration: int
    stage: str
    role: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    online_usd: float
    batch_usd: float
    wall_s: float           # at the most the role's rpm/tpm limits let through


@dataclass(frozen=True)
class Plan:
    lines: list[PlanLine]          # the loop's iterations, in order
    final: list[PlanLine]          # the final imitation after the last generation
    assumed: list[str]             # every number taken as an assumption, in words

    def total(self, with_final: bool = True) -> PlanLine:
        return combined(self.lines + (self.final if with_final else []), "all")

    def by_role(self) -> dict[str, PlanLine]:
        rows = self.lines + self.final
        roles = dict.fromkeys(r.role for r in rows)
        return {role: combined([r for r in rows if r.role == role], role) for role in roles}


def combined(rows: list[PlanLine], role: str) -> PlanLine:
    """The sum of some lines (iteration -1: not one iteration's)."""
    return PlanLine(-1, "total", role, sum(r.requests for r in rows), sum(r.prompt_tokens for r in rows),
                    sum(r.completion_tokens for r in rows), sum(r.online_usd for r in rows),
                    sum(r.batch_usd for r in rows), sum(r.wall_s for r in rows))


def assumed_size(role: str, endpoints: dict[str, EndpointSpec]) -> RequestSize:
    """Before a role's first paid request: core/totals.py's assumed prompt, half of max_tokens back; a
    referee prompt also carries two answers of the teacher's assumed length."""
    ep = endpoints[role]
    prompt = float(ASSUMED_PROMPT_TOKENS)
    if role == "referee" and "teacher" in endpoints:
        prompt += 2 * endpoints["teacher"].max_tokens * ASSUMED_COMPLETION_SHARE
    return RequestSize(prompt, ep.max_tokens * ASSUMED_COMPLETION_SHARE, False)


def request_size(inputs: PlanInputs, role: str) -> RequestSize:
    measured = inputs.measured_sizes.get(role)
    return measured if measured is not None else assumed_size(role, inputs.endpoints)


def plan_line(inputs: PlanInputs, iteration: int, stage: str, role: str, requests: int) -> PlanLine:
    ep, size = inputs.endpoints[role], request_size(inputs, role)
    prompt, completion = round(requests * size.prompt_tokens), round(requests * size.completion_tokens)
    reserved = float(request_reservation(size.prompt_tokens, ep.max_tokens))
    per_minute = Throughput(role, ep.rpm, ep.tpm, ep.max_tokens, reserved, size.measured).max_per_minute
    return PlanLine(iteration, stage, role, requests, prompt, completion,
                    ep.prices.cost(prompt, completion), ep.batch_prices.cost(prompt, completion),
                    requests / per_minute * 60.0 if per_minute > 0 else math.inf)


def pool_sizes(inputs: PlanInputs) -> list[tuple[int, int]]:
    """(Train Pool, Cache Pool) of each iteration: as written where the store has them, else grown by
    the rule (the new instructions replace the one and join the other)."""
    sizes, cache = [], inputs.seeds
    for t in range(inputs.iterations):
        cache = inputs.cache_sizes.get(t, cache)
        train = inputs.train_sizes.get(t, inputs.seeds if t == 0 else inputs.new_per_iteration)
        sizes.append((train, cache))
        cache += inputs.new_per_iteration
    return sizes


def generator_requests(inputs: PlanInputs, iteration: int) -> int:
    """new ÷ acceptance a stage, at most the attempt limit; rounded so that the iterations together
    add up to the rounded whole (a measured acceptance is the whole run's so far)."""
    accept = inputs.acceptance or DEFAULT_ACCEPTANCE
    per_stage = min(inputs.new_per_iteration / accept, int(inputs.new_per_iteration * inputs.max_attempts_factor))
    return round((iteration + 1) * per_stage) - round(iteration * per_stage)


def probe_requests(inputs: PlanInputs, role: str) -> int:
    """The structured-replies probes a role sends: the ones sent so far once any was, else one for each
    endpoint (base_url, model) that asks for JSON replies, sent by the first role on it (the referee
    before the generator) and remembered for the others."""
    if inputs.probes:
        return inputs.probes.get(role, 0)
    ep = inputs.endpoints[role]
    earlier = [r for r in STRUCTURED_ROLES[:STRUCTURED_ROLES.index(role)] if r in inputs.endpoints
               and inputs.endpoints[r].structured != "off"
               and (inputs.endpoints[r].base_url, inputs.endpoints[r].model) == (ep.base_url, ep.model)]
    return 0 if ep.structured == "off" or earlier else 1


def online_line(inputs: PlanInputs, iteration: int, stage: str, prior_cache: int) -> PlanLine:
    """The referee's requests of an imitation's online rounds, whose prompts come from the discrimination
    of iteration - 1 (its Cache Pool `prior_cache`)."""
    requests = online_requests(inputs.online, prior_cache, inputs.hard_shares.get(iteration - 1),
                               inputs.referee_retry_rate or 0.0)
    return plan_line(inputs, iteration, stage, "referee", requests)


def make_plan(inputs: PlanInputs) -> Plan:
    retry = inputs.referee_retry_rate or 0.0
    lines = []
    sizes = pool_sizes(inputs)
    for t, (train, cache) in enumerate(sizes):
        lines.append(plan_line(inputs, t, "imitation", "teacher", train))
        if inputs.online.at(t, inputs.iterations):
            lines.append(online_line(inputs, t, "imitation · online DPO", sizes[t - 1][1]))
        for stage, role in zip(("discrimination", "generation"), STRUCTURED_ROLES, strict=True):
            if t == 0 and role in inputs.endpoints and (probe := probe_requests(inputs, role)):
                lines.append(plan_line(inputs, t, f"{stage} probe", role, probe))
        lines += [plan_line(inputs, t, "discrimination", "referee", round(2 * cache * (1 + retry))),
                  plan_line(inputs, t, "generation", "generator", generator_requests(inputs, t))]
    final = [plan_line(inputs, inputs.iterations, FINAL_STAGE, "teacher", inputs.new_per_iteration)]
    if inputs.online.at(inputs.iterations, inputs.iterations) and sizes:
        final.append(online_line(inputs, inputs.iterations, f"{FINAL_STAGE} · online DPO", sizes[-1][1]))
    return Plan(lines, final, assumptions(inputs))


def assumptions(inputs: PlanInputs) -> list[str]:
    notes = []
    for role in inputs.endpoints:
        if role not in inputs.measured_sizes:
            size = assumed_size(role, inputs.endpoints)
            notes.append(f"{role}: no paid request yet; assumed {size.prompt_tokens:,.0f} prompt + "
                         f"{size.completion_tokens:,.0f} completion tokens a request")
    if inputs.acceptance is None:
        notes.append(f"generator: no candidate yet; assumed acceptance {DEFAULT_ACCEPTANCE:.0%} "
                     f"(at most {inputs.max_attempts_factor:g} × new_per_iteration requests)")
    unprobed = [r for r in STRUCTURED_ROLES
                if not inputs.probes and r in inputs.endpoints and probe_requests(inputs, r)]
    if unprobed:
        notes.append(f"{' and '.join(unprobed)}: one structured-replies probe per endpoint (two where the first"
                     " shape is refused)")
    if inputs.online.rounds and not inputs.online.whole_cache and len(inputs.hard_shares) < inputs.iterations:
        notes.append(f"online DPO: the prompts are the previous discrimination's hard instructions, assumed "
                     f"{DEFAULT_HARD_SHARE:.0%} of its Cache Pool where none is labelled yet")
    if inputs.referee_retry_rate is None:
        notes.append("referee: no verdict yet; assumed no retries of unreadable replies")
    missing = [t for t in range(inputs.iterations) if t not in inputs.cache_sizes]
    if missing:
        notes.append(f"pools of iteration{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}: "
                     f"not written yet; grown by {inputs.new_per_iteration:,} new instructions each")
    return notes
