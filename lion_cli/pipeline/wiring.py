"""Build a LoopContext for a project: the API engine over the store's cache and call log."""

from __future__ import annotations

from pathlib import Path

from lion_cli.config import Settings
from lion_cli.core.api import EndpointSpec
from lion_cli.core.types import API_ROLES
from lion_cli.pipeline.context import LoopContext
from lion_cli.pipeline.roles import load_role_prompts
from lion_cli.store.db import Store


def endpoint_specs(settings: Settings) -> dict[str, EndpointSpec]:
    return {r.value: EndpointSpec(**settings.endpoint(r).model_dump()) for r in API_ROLES}


def build_engine(settings: Settings, store: Store) -> object:
    from lion_cli.llm.engine import LLMEngine
    from lion_cli.store.api_log import StoreCache, StoreCallLog, StoreSpend

    return LLMEngine(endpoint_specs(settings), cache=StoreCache(store), call_log=StoreCallLog(store),
                     spend=StoreSpend(store), max_usd=settings.budget.max_usd)


def build_context(project_dir: Path, settings: Settings, store: Store) -> LoopContext:
    engine = build_engine(settings, store)
    return LoopContext(project_dir, settings, store, engine, load_role_prompts())  # type: ignore[arg-type]
