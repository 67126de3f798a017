"""What the projection needs of [preference] online (core/online_plan.py OnlineProgress), read beside the
run's totals (store/totals.py)."""

from __future__ import annotations

from lion_cli.core.online_plan import OnlineProgress
from lion_cli.store.db import Store
from lion_cli.store.plan_inputs import hard_shares


class OnlineProgressReader:
    """A finished discrimination's labels do not change: each share is read once, when its stage is done,
    and only for the discriminations the rest of the run still prompts from."""

    def __init__(self) -> None:
        self._shares: dict[int, float] = {}

    def read(self, store: Store, current: int) -> OnlineProgress:
        # Only the discriminations whose hard instructions are still to be prompted: the one before the
        # current iteration (its imitation's rounds) and the current one (the next imitation's).
        wanted = [it for it in (current - 1, current) if it >= 0 and it not in self._shares]
        finished = [int(r[0]) for r in store.query(
            "SELECT iteration FROM stages WHERE stage = 'discrimination' AND status = 'done'"
            f" AND iteration IN ({','.join('?' * len(wanted))})", wanted)] if wanted else []
        if finished:
            self._shares.update(hard_shares(store, only=finished))
        done = store.scalar("SELECT status = 'done' FROM stages WHERE iteration = ? AND stage = 'imitation'",
                            (current,)) == 1
        verdicts = 0 if done or not _has_online_scores(store) else int(store.scalar(
            "SELECT COUNT(*) FROM online_scores WHERE iteration = ?", (current,)) or 0)
        shares = {it: share for it, share in self._shares.items() if it >= current - 1}
        return OnlineProgress(shares, done, verdicts)


def _has_online_scores(store: Store) -> bool:
    """False for a store older than migration 0013, opened read-only (never migrated) by `lion status`."""
    return store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'online_scores'") == 1
