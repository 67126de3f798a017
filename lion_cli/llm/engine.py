"""The async client every role shares: one `chat()` call = cache lookup, budget check, paced and
retried HTTP to an OpenAI-compatible /chat/completions, cache write, and a CallRecord per attempt
(each request sent is one, a request abandoned in flight too: the server may still bill it).

Pacing is per endpoint, keyed by (base_url, model, api_key_env): a provider's limits belong to a key
and a model, so roles pointing at the same ones share one set of buckets (with the strictest of
their configured limits) instead of each believing it owns the whole quota.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from lion_cli.core.aimd import EndpointState
from lion_cli.core.api import (
    CallRecord,
    ChatResult,
    EndpointSpec,
    Messages,
    cost,
    estimate_prompt_tokens,
    request_key,
    request_reservation,
)
from lion_cli.core.redact import redact, redact_secrets
from lion_cli.core.reply_schemas import ReplySchema, ReplyShape
from lion_cli.core.value_checks import looks_like_key, shown_url
from lion_cli.llm.adaptive import Flight
from lion_cli.llm.batch import BatchLedger
from lion_cli.llm.batch_queue import BatchQueue, LineFailed, MemoryBatchLedger
from lion_cli.llm.errors import ApiError, BudgetExceeded, MissingApiKey, RetryableError
from lion_cli.llm.limiter import EndpointLimiter
from lion_cli.llm.probe import SchemaProbe, probe_structured
from lion_cli.llm.protocols import (
    CallLog,
    CapabilityStore,
    EndpointStateLog,
    MemoryCallLog,
    RequestCache,
    SpendMeter,
)
from lion_cli.llm.retry_after import backoff_seconds, retry_after_seconds
from lion_cli.llm.schema_support import SchemaSupport
from lion_cli.llm.wire import not_found_hint, parse_completion, server_message

__all__ = ["ApiError", "BudgetExceeded", "LLMEngine", "MissingApiKey"]

log = logging.getLogger("lion.llm")

STATE_INTERVAL_S = 1.0   # an endpoint's state goes to the EndpointStateLog at most this often

# Failures before the server had the whole request: nothing it could answer, or bill.
_NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)


@dataclass
class _Attempts:
    """What the attempts of one logical call saw: the current attempt's, for its CallRecord."""

    n: int = 0
    rate_limited: int = 0   # 1 when the current attempt got a 429
    status: int | None = None
    reserved: int = 0   # tokens each attempt reserved in the TPM bucket
    started: float = 0.0    # monotonic time the current attempt began
    open: bool = False      # the current attempt was sent and has no CallRecord yet
    possibly_billed: bool = False   # the current attempt was given up on after the server had it

    def next(self) -> None:
        self.n += 1
        self.rate_limited, self.status, self.started = 0, None, time.monotonic()
        self.possibly_billed = False


def _without_secrets(result: ChatResult, body: str, secrets: tuple[str, ...]) -> tuple[ChatResult, str]:
    """An answer (and the response body kept with it) without the key: a server or a batch provider that
    echoes the key inside an answer gets it stored nowhere, returned to no caller."""
    if not secrets:
        return result, body
    return replace(result, text=redact_secrets(result.text, secrets)), redact_secrets(body, secrets)


class _NoCache:
    def get(self, key: str) -> ChatResult | None:
        return None

    def put(self, key: str, role: str, result: ChatResult, response_json: str) -> None:
        return None


class _OwnSpend:
    def __init__(self, engine: LLMEngine) -> None:
        self.engine = engine

    def spent_usd(self) -> float:
        return self.engine.spent_here


class LLMEngine:
    def __init__(self, endpoints: Mapping[str, EndpointSpec], *, cache: RequestCache | None = None,
                 call_log: CallLog | None = None, spend: SpendMeter | None = None, max_usd: float = 0.0,
                 transport: httpx.AsyncBaseTransport | None = None, backoff_base_s: float = 0.5,
                 backoff_max_s: float = 30.0, capabilities: CapabilityStore | None = None,
                 endpoint_log: EndpointStateLog | None = None, batch_ledger: BatchLedger | None = None) -> None:
        self.endpoints = dict(endpoints)
        self.cache: RequestCache = cache or _NoCache()
        self.call_log: CallLog = call_log or MemoryCallLog()
        # Without a meter, count what this engine itself spends (a call log may not know how).
        self.spent_here = 0.0
        self.spend: SpendMeter = spend or _OwnSpend(self)
        self.max_usd = max_usd
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._inflight: dict[str, asyncio.Future[ChatResult]] = {}
        self.schemas = SchemaSupport(capabilities)
        self.limiters: dict[tuple[str, str, str], EndpointLimiter] = {}
        for spec in self.endpoints.values():
            shared = [s for s in self.endpoints.values() if s.limit_key == spec.limit_key]
            if spec.limit_key not in self.limiters:
                self.limiters[spec.limit_key] = EndpointLimiter(
                    min(s.rpm for s in shared), min(s.tpm for s in shared), min(s.max_concurrency for s in shared),
                    adaptive=all(s.adaptive_concurrency for s in shared))
        self.endpoint_log = endpoint_log
        self._published: dict[tuple[str, str, str], float] = {}
        # The roles in batch mode send through it (llm/batch_queue.py); their ids are kept in batch_ledger.
        self.batches = BatchQueue(batch_ledger or MemoryBatchLedger(), self._http, self._store_batch_answer,
                                  budget=lambda: (self.spend.spent_usd(), self.max_usd))
        for key, limiter in self.limiters.items():
            limiter.on_change = partial(self._publish, key)

    # -- lifecycle ---------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            conns = sum(lim.max_concurrency for lim in self.limiters.values()) or 1
            self._client = httpx.AsyncClient(
                transport=self._transport, trust_env=False,
                limits=httpx.Limits(max_connections=conns, max_keepalive_connections=conns))
        return self._client

    async def aclose(self) -> None:
        await self.batches.aclose()
        for key in self._published:  # the last word: what was in flight has ended
            self._publish(key, force=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> LLMEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def limiter(self, role: str) -> EndpointLimiter:
        return self.limiters[self._spec(role).limit_key]

    def state(self, role: str) -> EndpointState:
        """What the engine is doing with `role`'s endpoint now (shared with the roles on the same one)."""
        return self._state(self._spec(role).limit_key)

    def _state(self, key: tuple[str, str, str]) -> EndpointState:
        roles = tuple(sorted(r for r, s in self.endpoints.items() if s.limit_key == key))
        spec = self.endpoints[roles[0]]
        name = f"{spec.model} at {shown_url(spec.base_url)}" + (f" ({spec.api_key_env})" if spec.api_key_env else "")
        return replace(self.limiters[key].state(name, roles), at=time.time())

    def _publish(self, key: tuple[str, str, str], force: bool = False) -> None:
        now = time.monotonic()
        if self.endpoint_log is None or (not force and now - self._published.get(key, -STATE_INTERVAL_S)
                                         < STATE_INTERVAL_S):
            return
        self._published[key] = now
        self.endpoint_log.write(self._state(key))

    def _spec(self, role: str) -> EndpointSpec:
        try:
            return self.endpoints[role]
        except KeyError:
            raise ApiError(f"no endpoint configured for role '{role}' (have: {sorted(self.endpoints)})",
                           role=role) from None

    # -- structured replies ----------------------------------------------------------------------------
    async def response_format(self, role: str, reply: ReplySchema) -> dict[str, Any] | None:
        """The response_format to ask `role` for a reply under `reply`'s schema with, or None when its
        endpoint takes free text only (structured = "off", or "auto" and its probe said so), in the
        shape of response_format its probe found (llm/schema_support.py)."""
        spec = self._spec(role)
        shape = await self.schemas.shape(spec, lambda s: self._probe_schema(role, spec, s))
        return None if shape is None else reply.response_format(shape, max_tokens=spec.max_tokens)

    async def _probe_schema(self, role: str, spec: EndpointSpec, shape: ReplyShape) -> SchemaProbe:
        """One structured-replies probe in `shape`, sent as `role` and recorded like any attempt."""
        self._check_budget()
        api_key = self._api_key(spec, role)
        headers = {"X-Lion-Role": role, **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        seen = _Attempts()
        seen.next()
        found = await probe_structured(self._http(), spec, headers, (api_key,) if api_key else (), shape)
        seen.status = found.status
        used = ChatResult("", "", found.prompt_tokens, found.completion_tokens,
                          cost(spec, found.prompt_tokens, found.completion_tokens), False, "", spec.model)
        self._record(role, spec, "", seen.started, seen, None, cached=False, result=used,
                     error=None if found.status == 200 else found.detail)
        return found

    # -- the call ------------------------------------------------------------------------------------
    async def chat(self, role: str, messages: Messages, *, sample_index: int = 0, seed: int | None = None,
                   temperature: float | None = None, max_tokens: int | None = None,
                   response_format: dict[str, Any] | None = None) -> ChatResult:
        spec = self._spec(role)
        sampling: dict[str, Any] = {
            "temperature": spec.temperature if temperature is None else temperature,
            "top_p": spec.top_p, "max_tokens": spec.max_tokens if max_tokens is None else max_tokens}
        if seed is not None:
            sampling["seed"] = seed
        if response_format is not None:  # sent, and part of the answer's key (core/api.py request_key)
            sampling["response_format"] = response_format
        key = request_key(spec.base_url, spec.model, messages, sampling, sample_index)
        t0 = time.monotonic()

        hit = self.cache.get(key)
        if hit is None and key in self._inflight:  # the same request is already on the wire: share it
            hit = await asyncio.shield(self._inflight[key])
        if hit is not None:
            self._record(role, spec, key, t0, _Attempts(), hit.finish_reason, cached=True)
            return replace(hit, cached=True, cache_key=key)

        self._check_budget()
        api_key = self._api_key(spec, role)

        future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._answer(role, spec, messages, sampling, sample_index, key, api_key, t0)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting on it
            raise
        except BaseException:  # cancelled or interrupted: sharers are cancelled too
            future.cancel()
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    def _check_budget(self) -> None:
        if self.max_usd > 0:
            spent = self.spend.spent_usd()
            if spent >= self.max_usd:
                raise BudgetExceeded(spent, self.max_usd)

    @staticmethod
    def _api_key(spec: EndpointSpec, role: str) -> str:
        if not spec.api_key_env:
            return ""
        if looks_like_key(spec.api_key_env):  # a pasted key: never repeat it, not even in this error
            raise MissingApiKey(f"{role}.api_key_env must name an environment variable (it looks like a key "
                                f"itself): write api_key_env = \"OPENAI_API_KEY\" and export the key in that "
                                f"variable", role=role)
        value = os.environ.get(spec.api_key_env)
        if not value:
            raise MissingApiKey(f"{role}: environment variable {spec.api_key_env} is not set (it must hold the "
                                f"API key for {shown_url(spec.base_url)}; set api_key_env = \"\" to send no key)",
                                role=role)
        return value

    async def _answer(self, role: str, spec: EndpointSpec, messages: Messages, sampling: dict[str, Any],
                      sample_index: int, key: str, api_key: str, t0: float) -> ChatResult:
        """Online, or in batch mode through the role's next batch (and online where a line of it failed
        and batch_resend = "online")."""
        if spec.mode == "batch":
            headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
            body = {"model": spec.model, "messages": messages, **sampling}
            try:
                return await self.batches.answer(role, spec, key, body, sample_index, headers)
            except LineFailed as exc:
                log.info("%s: a batch line failed (%s); sending it online", role, exc)
        return await self._send(role, spec, messages, sampling, sample_index, key, api_key, t0)

    def _store_batch_answer(self, role: str, spec: EndpointSpec, key: str, body: dict[str, Any]) -> ChatResult | None:
        """A batch line's answer stored as an online answer is (request cache, a CallRecord), at the batch
        prices; an answer already stored (read again after a kill) is not counted twice."""
        hit = self.cache.get(key)
        if hit is not None:
            return replace(hit, cache_key=key)
        text = json.dumps(body, ensure_ascii=False)
        result = parse_completion(text, spec.model, 0)
        if result is None:
            return None
        api_key = self._api_key(spec, role)   # chat() has read it before it queued the line
        result, text = _without_secrets(result, text, (api_key,) if api_key else ())
        prices = spec.batch_prices
        result = replace(result, cache_key=key, cost_usd=prices.cost(result.prompt_tokens, result.completion_tokens))
        self.cache.put(key, role, result, text)
        seen = _Attempts()
        seen.next()
        seen.status = 200
        self._record(role, spec, key, seen.started, seen, result.finish_reason, cached=False, result=result)
        return result

    async def _send(self, role: str, spec: EndpointSpec, messages: Messages, sampling: dict[str, Any],
                    sample_index: int, key: str, api_key: str, t0: float) -> ChatResult:
        payload = {"model": spec.model, "messages": messages, **sampling}
        headers = {"X-Lion-Role": role, "X-Lion-Sample": str(sample_index)}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        seen = _Attempts()
        secrets = (api_key,) if api_key else ()
        limiter = self.limiters[spec.limit_key]
        retrying = AsyncRetrying(stop=stop_after_attempt(spec.max_retries + 1), wait=self._wait,
                                 retry=retry_if_exception_type(RetryableError), reraise=True,
                                 before_sleep=lambda st: self._log_retry(role, spec, key, seen, st, secrets))
        failure: str | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    seen.next()
                    result, body = await self._attempt(spec, limiter, payload, headers, messages, seen, secrets)
        except (RetryableError, ApiError) as exc:
            # Messages are redacted where they are made; once more here, whatever made this one.
            failure = redact(str(exc), secrets)
            if isinstance(exc, RetryableError):
                failure = f"gave up after {seen.n} attempts: {failure}"
        except BaseException as exc:
            if seen.open:  # sent and never answered (cancelled, interrupted): the server may still bill it
                seen.possibly_billed = True
                self._record(role, spec, key, seen.started, seen, None, cached=False,
                             error=f"abandoned in flight ({type(exc).__name__}): the server may still answer it")
            raise
        if failure is not None:  # raised outside the handler: no chained original travels with it
            self._record(role, spec, key, seen.started, seen, None, cached=False, error=failure)
            where = redact(f"{role} ({spec.model} at {shown_url(spec.base_url)})", secrets)
            raise ApiError(f"{where}: {failure}", status=seen.status, role=role, retries=seen.n - 1)
        result, body = _without_secrets(result, body, secrets)
        result = replace(result, cache_key=key, cost_usd=cost(spec, result.prompt_tokens, result.completion_tokens))
        self.cache.put(key, role, result, body)
        self._record(role, spec, key, seen.started, seen, result.finish_reason, cached=False, result=result)
        return result

    async def _attempt(self, spec: EndpointSpec, limiter: EndpointLimiter, payload: dict[str, Any],
                       headers: dict[str, str], messages: Messages, seen: _Attempts,
                       secrets: tuple[str, ...]) -> tuple[ChatResult, str]:
        prompt_est = estimate_prompt_tokens(messages)
        reserved = seen.reserved = request_reservation(prompt_est, int(payload["max_tokens"]))
        url = spec.base_url.rstrip("/") + "/chat/completions"
        async with limiter.slot(reserved) as flight:
            # Checked again here, after the wait for the buckets: calls queued behind a limit for
            # minutes must not all go out once the spend that came in meanwhile reached the cap.
            try:
                self._check_budget()
            except BudgetExceeded:
                limiter.refund(reserved)
                raise
            flight.send()  # the timeout counts from here: the wait in lion's own queue is behind it
            try:
                async with asyncio.timeout(spec.timeout_s):
                    seen.open = True
                    resp = await self._http().post(url, json=payload, headers=headers, timeout=spec.timeout_s)
            except (TimeoutError, httpx.TimeoutException) as exc:
                seen.status = None
                self._given_up(exc, flight, seen, "timeout")
                raise RetryableError(f"no answer within timeout_s={spec.timeout_s:g}") from None
            except httpx.TransportError as exc:
                seen.status = None
                limiter.settle(reserved, prompt_est)
                self._given_up(exc, flight, seen, "connection dropped")
                raise RetryableError(f"connection failed ({type(exc).__name__})") from None
            if resp.status_code in (429, 503):
                flight.refused(f"HTTP {resp.status_code}")
            elif resp.status_code < 300:
                flight.succeeded()
        return self._read_response(spec, limiter, resp, reserved, prompt_est, seen, secrets)

    @staticmethod
    def _given_up(exc: Exception, flight: Flight, seen: _Attempts, reason: str) -> None:
        """A request given up on after it reached the server may still be answered, and billed."""
        if not isinstance(exc, _NOT_DELIVERED):
            seen.possibly_billed = True
            flight.gave_up(reason)

    def _read_response(self, spec: EndpointSpec, limiter: EndpointLimiter, resp: httpx.Response, reserved: int,
                       prompt_est: int, seen: _Attempts, secrets: tuple[str, ...]) -> tuple[ChatResult, str]:
        seen.status = resp.status_code
        limiter.observe(resp.headers, reserved)
        if resp.status_code == 429:
            seen.rate_limited += 1
            limiter.settle(reserved, 0)  # refused requests are not counted by the server
            wait = retry_after_seconds(resp.headers)
            limiter.pause(wait if wait is not None else backoff_seconds(seen.n, self.backoff_base_s,
                                                                        self.backoff_max_s))
            raise RetryableError(f"HTTP 429 rate limited: {server_message(resp, secrets)}", status=429,
                                 retry_after=wait, rate_limited=True)
        if resp.status_code in (408, 409) or resp.status_code >= 500:
            limiter.settle(reserved, prompt_est)
            raise RetryableError(f"HTTP {resp.status_code}: {server_message(resp, secrets)}", status=resp.status_code)
        if resp.status_code >= 400:
            limiter.settle(reserved, 0)
            hint = not_found_hint(spec.base_url) if resp.status_code == 404 else ""
            raise ApiError(f"HTTP {resp.status_code}: {server_message(resp, secrets)}{hint}", status=resp.status_code)
        result = parse_completion(resp.text, spec.model, prompt_est)
        if result is None:
            limiter.settle(reserved, prompt_est)
            raise RetryableError("HTTP 200 but the body is not a chat completion (invalid JSON or no choices)",
                                 status=resp.status_code)
        limiter.settle(reserved, result.prompt_tokens + result.completion_tokens)
        return result, resp.text

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return backoff_seconds(state.attempt_number, self.backoff_base_s, self.backoff_max_s)

    def _log_retry(self, role: str, spec: EndpointSpec, key: str, seen: _Attempts, state: RetryCallState,
                   secrets: tuple[str, ...]) -> None:
        """An attempt that failed and will be retried: logged, and recorded as its own CallRecord."""
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("%s: attempt %d failed (%s); retrying in %.2fs", role, state.attempt_number,
                 redact(str(exc), secrets), wait)
        self._record(role, spec, key, seen.started, seen, None, cached=False, error=redact(str(exc), secrets),
                     final=False)

    def _record(self, role: str, spec: EndpointSpec, key: str, t0: float, seen: _Attempts,
                finish_reason: str | None, *, cached: bool, result: ChatResult | None = None,
                error: str | None = None, final: bool = True) -> None:
        """The CallRecord of the current attempt (a cache hit: of the hit), timed from t0."""
        if result is not None and not cached:
            self.spent_here += result.cost_usd
        seen.open = False
        self.call_log.record(CallRecord(
            ts=time.time(), role=role, model=spec.model, base_url=shown_url(spec.base_url), cache_key=key,
            status=None if cached else seen.status, ok=error is None, cached=cached,
            latency_s=time.monotonic() - t0,
            prompt_tokens=result.prompt_tokens if result else 0,
            completion_tokens=result.completion_tokens if result else 0,
            cost_usd=result.cost_usd if result else 0.0, retries=int(seen.n > 1),
            rate_limited=seen.rate_limited, finish_reason=finish_reason, error=error,
            reserved_tokens=0 if cached else seen.reserved, attempt=0 if cached else seen.n, final=final,
            possibly_billed=seen.possibly_billed and not cached))
