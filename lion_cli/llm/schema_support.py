"""Which shape of response_format an endpoint is asked for replies under a JSON schema in
(EndpointSpec.structured), or None for free text.

"off" is free text. "auto" and "on" are decided once per (base_url, model): by what the store
remembers from an earlier run, else by a probe of each shape (llm/probe.py find_reply_shape) whose
verdict is remembered when it is conclusive (a shape answered, or every shape refused or ignored). A
probe that says nothing (no answer, a 500 not naming the parameter) leaves this run on free text
("auto") and is made again next run. "on" asks for structured replies even where no shape worked:
in the remembered shape, else OpenAI's json_schema.
Concurrent callers wait for the one probe in flight instead of each sending their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from lion_cli.core.api import EndpointSpec
from lion_cli.core.reply_schemas import REPLY_SHAPES, ReplyShape
from lion_cli.core.value_checks import shown_url
from lion_cli.llm.probe import SchemaProbe, find_reply_shape
from lion_cli.llm.protocols import CapabilityStore, MemoryCapabilities

log = logging.getLogger("lion.llm")

ShapeProbe = Callable[[ReplyShape], Awaitable[SchemaProbe]]


def endpoint_id(spec: EndpointSpec) -> tuple[str, str]:
    """What a capability is remembered by: the base URL without credentials, and the model."""
    return shown_url(spec.base_url).rstrip("/"), spec.model


class SchemaSupport:
    def __init__(self, known: CapabilityStore | None = None) -> None:
        self.known: CapabilityStore = known or MemoryCapabilities()
        self._decided: dict[tuple[str, str], ReplyShape | None] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def shape(self, spec: EndpointSpec, probe: ShapeProbe) -> ReplyShape | None:
        """The shape to send `spec`'s endpoint a schema in; None: ask for free text."""
        if spec.structured == "off":
            return None
        where = endpoint_id(spec)
        if where not in self._decided:
            async with self._locks.setdefault(where, asyncio.Lock()):
                if where not in self._decided:
                    self._decided[where] = await self._decide(where, probe)
        found = self._decided[where]
        return found if found is not None or spec.structured == "auto" else REPLY_SHAPES[0]

    async def _decide(self, where: tuple[str, str], probe: ShapeProbe) -> ReplyShape | None:
        remembered = self.known.reply_shape(*where)
        if remembered is not None:
            return None if remembered == "text" else remembered
        verdict = await find_reply_shape(probe)
        if verdict.conclusive:
            self.known.remember_reply_shape(*where, verdict.shape or "text", verdict.detail)
        log.info("%s (%s): structured replies %s: %s", where[0], where[1], verdict.shape or "off", verdict.detail)
        return verdict.shape
