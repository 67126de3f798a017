"""Whether an endpoint is asked for replies under a JSON schema (EndpointSpec.structured).

"on" and "off" are taken as they are. "auto" is decided once per (base_url, model): by what the
store remembers from an earlier run, else by one probe (llm/probe.py probe_structured) whose verdict
is remembered when it is conclusive (an answer, or a refusal naming response_format). A probe that
says nothing (no answer, a 500) leaves this run on free text and is made again next run.
Concurrent callers wait for the one probe in flight instead of each sending their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from lion_cli.core.api import EndpointSpec
from lion_cli.core.value_checks import shown_url
from lion_cli.llm.probe import SchemaProbe
from lion_cli.llm.protocols import CapabilityStore, MemoryCapabilities

log = logging.getLogger("lion.llm")


def endpoint_id(spec: EndpointSpec) -> tuple[str, str]:
    """What a capability is remembered by: the base URL without credentials, and the model."""
    return shown_url(spec.base_url).rstrip("/"), spec.model


class SchemaSupport:
    def __init__(self, known: CapabilityStore | None = None) -> None:
        self.known: CapabilityStore = known or MemoryCapabilities()
        self._decided: dict[tuple[str, str], bool] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def accepts(self, spec: EndpointSpec, probe: Callable[[], Awaitable[SchemaProbe]]) -> bool:
        if spec.structured != "auto":
            return spec.structured == "on"
        where = endpoint_id(spec)
        if where not in self._decided:
            async with self._locks.setdefault(where, asyncio.Lock()):
                if where not in self._decided:
                    self._decided[where] = await self._decide(where, probe)
        return self._decided[where]

    async def _decide(self, where: tuple[str, str], probe: Callable[[], Awaitable[SchemaProbe]]) -> bool:
        remembered = self.known.structured(*where)
        if remembered is not None:
            return remembered
        found = await probe()
        if found.conclusive:
            self.known.remember_structured(*where, found.accepted, found.detail)
        log.info("%s (%s): structured replies %s: %s", where[0], where[1],
                 "on" if found.accepted else "off", found.detail)
        return found.accepted
