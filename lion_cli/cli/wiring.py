"""Wiring a project's adapters together: the API engine over the store's request cache, call log and
spend, the keys answers are stored under, and the LoopContext the stages run in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lion_cli.core.answer_keys import AnswerKeys, student_hash, teacher_hash
from lion_cli.core.api import EndpointSpec
from lion_cli.core.types import ENDPOINT_ROLES

if TYPE_CHECKING:
    from lion_cli.config import Settings
    from lion_cli.core.role_prompts import RolePrompts
    from lion_cli.llm.engine import LLMEngine
    from lion_cli.pipeline.context import LoopContext
    from lion_cli.store.db import Store


def endpoint_specs(settings: Settings) -> dict[str, EndpointSpec]:
    return {r.value: settings.endpoint(r) for r in ENDPOINT_ROLES}


def answer_keys(settings: Settings, prompts: RolePrompts) -> AnswerKeys:
    """The keys of this project's answers under its current settings."""
    from lion_cli.config import student_top_k

    teacher, gen = settings.teacher, settings.student.generation
    return AnswerKeys(
        teacher_model=teacher.model,
        teacher_hash=teacher_hash(model=teacher.model, temperature=teacher.temperature, top_p=teacher.top_p,
                                  max_tokens=teacher.max_tokens, prompt_source=prompts.teacher_source),
        student_hash=student_hash(temperature=gen.temperature, top_p=gen.top_p, top_k=student_top_k(settings),
                                  max_new_tokens=gen.max_new_tokens, prompt_format=settings.student.prompt_format,
                                  rng_seed=settings.loop.rng_seed))


def build_engine(settings: Settings, store: Store) -> LLMEngine:
    from lion_cli.llm.engine import LLMEngine
    from lion_cli.store.api_log import StoreCache, StoreCallLog, StoreSpend
    from lion_cli.store.batch_ledger import StoreBatchLedger
    from lion_cli.store.capabilities import StoreCapabilities
    from lion_cli.store.endpoint_state import StoreEndpointStates

    return LLMEngine(endpoint_specs(settings), cache=StoreCache(store), call_log=StoreCallLog(store),
                     spend=StoreSpend(store), max_usd=settings.budget.max_usd,
                     endpoint_log=StoreEndpointStates(store), capabilities=StoreCapabilities(store),
                     batch_ledger=StoreBatchLedger(store))


def build_context(project_dir: Path, settings: Settings, store: Store) -> LoopContext:
    from lion_cli.pipeline.context import LoopContext
    from lion_cli.prompts_loader import load_role_prompts

    prompts = load_role_prompts(protocol=settings.loop.protocol)
    return LoopContext(project_dir, settings, store, build_engine(settings, store), prompts,
                       answer_keys(settings, prompts))
