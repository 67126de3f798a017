"""One item's request failing for good, without failing the stage: the failure is classified
(llm/errors.py), the item marked failed in the store with its reason (store/failures.py), and the
stage goes on with the rest. Anything else (a wrong key, a wrong URL, the budget, Ctrl-C) still
stops the stage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from lion_cli.core.redact import redact_and_cut
from lion_cli.core.types import Role, Stage
from lion_cli.llm.errors import is_item_failure
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.progress import log
from lion_cli.store.failures import ItemFailure, active_failures, record_failure

T = TypeVar("T")
REASON_CHARS = 500


@dataclass(frozen=True)
class Item:
    """Which unit of work a request is for, as the failures table names it."""

    role: str
    key: str
    instruction_id: int | None = None


async def or_failed(ctx: LoopContext, iteration: int, stage: Stage, item: Item,
                    call: Callable[[], Awaitable[T]]) -> T | None:
    """`await call()`, or None after marking `item` failed when the request failed for good."""
    try:
        return await call()
    except Exception as exc:
        if not is_item_failure(exc):
            raise
        mark_failed(ctx, iteration, stage, item, getattr(exc, "status", None), str(exc))
        return None


def mark_failed(ctx: LoopContext, iteration: int, stage: Stage, item: Item, status: int | None, reason: str) -> None:
    """Record the failure (the engine's messages carry no key: llm/errors.py) and log it as an event."""
    reason = redact_and_cut(reason, (), REASON_CHARS)
    record_failure(ctx.store, ItemFailure(item.role, item.key, iteration, stage.value, item.instruction_id,
                                          ctx.settings.endpoint(Role(item.role)).model, status, reason))
    ctx.store.event(f"iteration {iteration}: {stage.value} · {item.role} {item.key} failed: {reason}"[:500],
                    level="warning", iteration=iteration, stage=stage.value)


def report_failures(ctx: LoopContext, iteration: int, stage: Stage, role: str) -> int:
    """One line on stderr for a step that left items failed; returns how many (of this role) there are."""
    failed = [f for f in active_failures(ctx.store, iteration, stage.value) if f.role == role]
    if failed:
        first = failed[0]
        log(f"it{iteration} {stage.value} · {role}: {len(failed)} item(s) failed for good and were left out "
            f"(first: {first.item_key}: {first.reason[:200]}); `lion status` lists them, and after fixing the "
            f"cause `lion retry-failed {ctx.project_dir}` sends them again")
    return len(failed)
