"""How many requests a minute an endpoint's limits let through, counted as the engine's limiter counts.

The limiter takes one request from the RPM bucket and a reservation (core/api.py request_reservation:
prompt estimate + the whole max_tokens) from the TPM bucket before each request is sent, as providers
do. So under a TPM limit the reservations, not the tokens used, set the pace: 90,000 tokens a minute at
~1,224 reserved per request is at most 73 requests a minute, however short the answers. `lion status`
and the dashboard's API panel show these figures and, when max_tokens is what caps the pace, say so
with the number and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from lion_cli.core.totals import API_ROLE_NAMES, EndpointPlan, RunPlan, RunTotals


@dataclass(frozen=True)
class MinuteUsage:
    """A role's paid requests that finished in the last minute, with the tokens they used and reserved."""

    requests: int = 0
    tokens_used: int = 0
    tokens_reserved: int = 0


@dataclass(frozen=True)
class Throughput:
    role: str
    rpm: int
    tpm: int
    max_tokens: int
    reserved_per_request: float    # the latest requests' mean, or the assumed request's
    measured: bool                 # False: no request reserved anything yet (assumed size)

    @property
    def per_minute_by_tpm(self) -> float:
        return self.tpm / self.reserved_per_request if self.reserved_per_request > 0 else float(self.rpm)

    @property
    def max_per_minute(self) -> float:
        """The most requests a minute both buckets let through."""
        return min(float(self.rpm), self.per_minute_by_tpm)

    @property
    def tpm_bound(self) -> bool:
        return self.per_minute_by_tpm < self.rpm

    @property
    def max_tokens_bound(self) -> bool:
        """TPM-bound, and max_tokens is most of what each request reserves."""
        return self.tpm_bound and self.max_tokens * 2 >= self.reserved_per_request

    def advice(self) -> str | None:
        """One line when the TPM bucket, not rpm, sets the pace; None otherwise."""
        if not self.tpm_bound:
            return None
        return f"{self.role}: {self.cause()}; {self.fix()}"

    def cause(self) -> str:
        size = "" if self.measured else " (size assumed)"
        return (f"TPM-bound by {'max_tokens' if self.max_tokens_bound else 'its prompts'}: each request reserves "
                f"~{self.reserved_per_request:,.0f} tokens{size} → at most {int(self.per_minute_by_tpm):,} req/min "
                f"under tpm {self.tpm:,}")

    def fix(self) -> str:
        return "lower max_tokens or raise tpm" if self.max_tokens_bound else "raise tpm"


def throughput(role: str, endpoint: EndpointPlan, reserved: float | None) -> Throughput:
    """`reserved`: the measured mean reservation of the role's latest requests, if any."""
    if reserved:
        return Throughput(role, endpoint.rpm, endpoint.tpm, endpoint.max_tokens, reserved, True)
    return Throughput(role, endpoint.rpm, endpoint.tpm, endpoint.max_tokens, float(endpoint.expected_reservation),
                      False)


def throughputs(t: RunTotals, plan: RunPlan) -> dict[str, Throughput]:
    return {role: throughput(role, ep, t.reserved_per_request.get(role))
            for role in API_ROLE_NAMES if (ep := plan.endpoints.get(role)) is not None}
