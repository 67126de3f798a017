"""[preference] online as the arithmetic counts it (pure): one place for `lion plan` (core/plan.py) and the
projection that `lion status` and the dashboard show (core/projection.py, online_referee_calls).

An imitation with online rounds (iteration t > 0 with when = "each", and the final imitation) has the
referee score `samples` answers per prompt in both orders, `rounds` times; the prompts are the previous
discrimination's hard instructions (or its whole Cache Pool), hard ÷ labelled measured where that
discrimination labelled any, else assumed DEFAULT_HARD_SHARE; unreadable replies are asked again at the
referee's retry rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_HARD_SHARE = 0.5    # hard ÷ labelled instructions, before a discrimination labels any


@dataclass(frozen=True)
class OnlineRounds:
    """[preference] online: `rounds` rounds of `samples` answers per prompt, after every iteration's
    imitation (`each`) or the final one's only; the prompts the previous discrimination's hard instructions
    or its whole Cache Pool (`whole_cache`). rounds 0: off."""

    rounds: int = 0
    samples: int = 2
    each: bool = True
    whole_cache: bool = False

    def at(self, iteration: int, iterations: int) -> bool:
        """Whether iteration `iteration`'s imitation has online rounds (`iterations`: the final imitation's)."""
        return self.rounds > 0 and (iteration == iterations or (self.each and 0 < iteration < iterations))


@dataclass(frozen=True)
class OnlineProgress:
    """Where a run's online rounds stand, as the projection needs it (store/online_totals.py reads it)."""

    hard_shares: dict[int, float] = field(default_factory=dict)  # iteration → hard ÷ labelled, discrimination done
    imitation_done: bool = False   # the current iteration's imitation stage (its online rounds included)
    verdicts: int = 0              # the referee's online verdicts of the current iteration so far, retries included


def online_rounds_from(preference: Mapping[str, Any]) -> OnlineRounds:
    """From a [preference] settings mapping (lion.toml's, or a run's recorded settings)."""
    if preference.get("online") is not True:
        return OnlineRounds()
    rounds, samples = preference.get("online_rounds"), preference.get("online_samples")
    return OnlineRounds(rounds if isinstance(rounds, int) else 1,   # config.py's defaults where a value is missing
                        samples if isinstance(samples, int) else OnlineRounds.samples,
                        preference.get("when", "each") == "each", preference.get("online_prompts") == "cache")


def online_requests(online: OnlineRounds, prior_cache: int, hard_share: float | None, retry_rate: float) -> int:
    """The referee's requests of one imitation's online rounds, whose prompts come from the discrimination
    before it (its Cache Pool `prior_cache`, `hard_share` of it hard; None: not labelled yet)."""
    share = 1.0 if online.whole_cache else (DEFAULT_HARD_SHARE if hard_share is None else hard_share)
    per_round = round(prior_cache * share) * online.samples * 2 * (1 + retry_rate)
    return round(online.rounds * per_round)


def online_referee_calls(online: OnlineRounds, progress: OnlineProgress, *, current: int, iterations: int,
                         cache: int, previous_cache: int, new_per_iteration: int, retry_rate: float) -> int:
    """The referee's requests of the online rounds still ahead of a run standing at iteration `current`
    (Cache Pool `cache`, the iteration before's `previous_cache`): every imitation from the current one to
    the final one (iteration `iterations`) that has rounds, each Cache Pool after the current one grown by
    the new instructions; of the current imitation, what its verdicts so far leave."""
    total = 0
    for it in range(current, iterations + 1):
        if not online.at(it, iterations):
            continue
        prior = previous_cache if it == current else cache + (it - 1 - current) * new_per_iteration
        n = online_requests(online, prior, progress.hard_shares.get(it - 1), retry_rate)
        if it == current:
            n = 0 if progress.imitation_done else max(n - progress.verdicts, 0)
        total += n
    return total
