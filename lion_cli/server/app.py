"""The local OpenAI-compatible server: routes, limits, injected faults and the statistics tests read.

`build_server(backend, faults, limits, host, port)` is the hook: any object with
`async complete(request, role) -> (text, finish_reason, prompt_tokens, completion_tokens)` serves
(scripted.py's ScriptedBackend, or model_backend.py's HFBackend for a local model).
`request` is the JSON body as params.py reads it (text-only messages, max_tokens the limit asked for) plus
`x_lion_sample` (int, from the X-Lion-Sample header) and `x_lion_choice` (which of n choices); choices.py
makes n, stop and response_format from it, render.py writes the reply or its stream. What the server
accepts and refuses is in params.py; errors are OpenAI's {"error": {message, type, param, code}}.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from collections import Counter
from typing import Any, Protocol
from urllib.parse import unquote

from lion_cli.server.batch import BatchConfig, line_role, line_sample
from lion_cli.server.batch_service import BatchService
from lion_cli.server.choices import Generated, halved, make_choices
from lion_cli.server.faults import FaultConfig, LimitConfig, choose_fault, choose_latency, echo_body
from lion_cli.server.http import Drop, HttpServer, Request, Response
from lion_cli.server.params import ChatRequest, Refusal, content_text, parse_chat_request
from lion_cli.server.render import completion_body, stream_body
from lion_cli.server.slots import ServerSlots
from lion_cli.server.window import SlidingWindow, fmt_duration


class Backend(Protocol):
    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]: ...


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None, *,
           param: str | None = None, code: str | None = None) -> Response:
    """OpenAI's error shape, which the SDKs turn into BadRequestError, NotFoundError, … with the message."""
    return Response.json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, headers)


def _refused(refusal: Refusal) -> Response:
    kind = "invalid_request_error" if refusal.status < 500 else "server_error"
    return _error(refusal.status, refusal.message, kind, param=refusal.param, code=refusal.code)


def _prompt_tokens(body: dict[str, Any]) -> int:
    texts = [content_text(m.get("content"), "message") for m in body["messages"]]
    return max(1, math.ceil(sum(len(t) for t in texts) / 4))


class ServerStats:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.received = 0
        self.served = 0
        self.duplicates = 0
        self.rate_limited = 0          # 429s caused by the RPM/TPM limits
        self.unauthorized = 0
        self.bad_requests = 0
        self.tokens = 0
        self.by_role: Counter[str] = Counter()
        self.by_hash: Counter[str] = Counter()  # served completions per request hash
        self.faults: Counter[str] = Counter()
        self.log: list[tuple[float, str, str, int]] = []  # (seconds since start, role, hash, status)

    def as_json(self, with_log: bool) -> dict[str, Any]:
        """`requests`: chat requests that arrived (= `received`); `duplicates`: completions served for a
        request (role, sample, body) that had already been served once; `faults`: injected faults in all,
        `faults_by_kind` per kind."""
        out: dict[str, Any] = {
            "uptime_s": time.monotonic() - self.t0, "requests": self.received, "received": self.received,
            "served": self.served, "duplicates": self.duplicates, "faults": sum(self.faults.values()),
            "faults_by_kind": dict(self.faults), "rate_limited": self.rate_limited,
            "unauthorized": self.unauthorized, "bad_requests": self.bad_requests, "tokens": self.tokens,
            "by_role": dict(self.by_role), "by_hash": dict(self.by_hash)}
        if with_log:
            out["log"] = self.log
        return out


class OpenAIServer:
    def __init__(self, backend: Backend, faults: FaultConfig | None = None, limits: LimitConfig | None = None,
                 host: str = "127.0.0.1", port: int = 0, model_name: str | None = None,
                 batch: BatchConfig | None = None) -> None:
        self.backend = backend
        self.faults = faults or FaultConfig()
        self.limits = limits or LimitConfig()
        self.model_name = model_name or str(getattr(backend, "model_name", "local"))
        self.stats = ServerStats()
        self.http = HttpServer(self.handle, host, port)
        self.rpm = SlidingWindow(self.limits.rpm, self.limits.window_s) if self.limits.rpm else None
        self.tpm = SlidingWindow(self.limits.tpm, self.limits.window_s) if self.limits.tpm else None
        self._arrivals: Counter[str] = Counter()
        self.slots = ServerSlots(self.limits.slots, self.limits.service_time_s)
        self.batches = BatchService(batch or BatchConfig(), self._batch_line)

    async def start(self) -> str:
        host, port = await self.http.start()
        return f"http://{host}:{port}/v1"

    async def close(self) -> None:
        await self.http.close()
        closer = getattr(self.backend, "close", None)  # a model backend frees its worker thread
        if callable(closer):
            closer()

    async def handle(self, req: Request) -> Response | Drop:
        path = req.path.rstrip("/")
        if req.method == "GET" and path == "/health":
            return Response.json(200, {"status": "ok"})
        if req.method == "GET" and path == "/stats":
            return Response.json(200, {**self.stats.as_json("log" in req.query), "slots": self.slots.as_json(),
                                       "batch": self.batches.as_json(),
                                       "answered_after_client_left": self.http.answered_after_client_left})
        if req.method == "GET" and path == "/v1/models":
            return Response.json(200, {"object": "list", "data": [self._model_card()]})
        if req.method == "GET" and path.startswith("/v1/models/"):
            wanted = unquote(path.removeprefix("/v1/models/"))
            if wanted == self.model_name:
                return Response.json(200, self._model_card())
            return _error(404, f"The model '{wanted}' does not exist (this server serves '{self.model_name}')",
                          "invalid_request_error", param="model", code="model_not_found")
        if path == "/v1/chat/completions":
            if req.method != "POST":
                return _error(405, "use POST", "invalid_request_error")
            return await self._chat(req)
        if path.startswith(("/v1/files", "/v1/batches")):
            return await self.batches.handle(req, path) or _error(404, f"no route {req.path}", "invalid_request_error")
        return _error(404, f"no route {req.method} {req.path}", "invalid_request_error")

    async def _batch_line(self, body: dict[str, Any], custom_id: str) -> tuple[int, dict[str, Any]]:
        """One line of a batch, answered by the chat route as a request of its own (counted alike)."""
        role, sample = line_role(custom_id), line_sample(custom_id)
        headers = {"x-lion-role": role} if role else {}
        if sample is not None:
            headers["x-lion-sample"] = sample
        if self.limits.api_key:  # the batch itself was created with the key
            headers["authorization"] = f"Bearer {self.limits.api_key}"
        req = Request("POST", "/v1/chat/completions", {}, headers, json.dumps(body).encode("utf-8"))
        resp = await self._chat(req)
        if not isinstance(resp, Response):
            return 500, {"error": {"message": "the connection was dropped (injected)", "type": "server_error"}}
        try:
            return resp.status, json.loads(resp.body)
        except ValueError:
            return 500, {"error": {"message": "the reply was not JSON (injected)", "type": "server_error"}}

    def _model_card(self) -> dict[str, Any]:
        return {"id": self.model_name, "object": "model", "created": 0, "owned_by": "lion"}

    # -- /v1/chat/completions --------------------------------------------------------------------------
    def _limit_headers(self, now: float) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, win in (("requests", self.rpm), ("tokens", self.tpm)):
            if win is not None:
                out[f"x-ratelimit-limit-{name}"] = str(win.limit)
                out[f"x-ratelimit-remaining-{name}"] = str(win.remaining(now))
                out[f"x-ratelimit-reset-{name}"] = fmt_duration(win.reset_in(now))
        return out

    def _over_limit(self, prompt_tokens: int, now: float) -> Response | None:
        for name, win, amount in (("requests", self.rpm, 1), ("tokens", self.tpm, prompt_tokens)):
            if win is not None and not win.admits(amount, now):
                wait = max(0.001, win.wait_for(amount, now))
                self.stats.rate_limited += 1
                headers = {"retry-after": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000)),
                           **self._limit_headers(now)}
                return _error(429, f"Rate limit reached for {name} per {self.limits.window_s:g}s: limit "
                                   f"{win.limit}, used {win.used}; retry in {wait:.3f}s", name, headers)
        return None

    def _validate(self, req: Request) -> tuple[dict[str, Any] | None, Response | None]:
        if self.limits.api_key and req.headers.get("authorization", "") != f"Bearer {self.limits.api_key}":
            self.stats.unauthorized += 1
            return None, _error(401, "Incorrect or missing API key (send Authorization: Bearer …)",
                                "invalid_request_error")
        try:
            body = json.loads(req.body)
        except ValueError:
            body = None
        try:
            request = parse_chat_request(body)
            if request.json_schema is not None and not self.limits.structured:
                raise Refusal("this server does not support 'response_format' (structured outputs)",
                              "response_format", "unsupported_parameter")
            if self.limits.context_tokens and _prompt_tokens(body) > self.limits.context_tokens:
                raise Refusal(f"This model's maximum context length is {self.limits.context_tokens} tokens; "
                              f"your messages have {_prompt_tokens(body)}", "messages", "context_length_exceeded")
        except Refusal as refusal:
            self.stats.bad_requests += 1
            return None, _refused(refusal)
        return body, None

    async def _chat(self, req: Request) -> Response | Drop:
        now = time.monotonic()
        self.stats.received += 1
        body, refusal = self._validate(req)
        if body is None:
            assert refusal is not None
            return refusal
        role = req.headers.get("x-lion-role") or None
        try:
            sample = int(req.headers.get("x-lion-sample", "0"))
        except ValueError:
            sample = 0
        key = hashlib.sha256(json.dumps([role, sample, body], sort_keys=True).encode("utf-8")).hexdigest()[:16]
        self._arrivals[key] += 1
        occurrence = self._arrivals[key]
        prompt_est = _prompt_tokens(body)
        limited = self._over_limit(prompt_est, now)
        if limited is not None:
            self.stats.log.append((now - self.stats.t0, role or "", key, 429))
            return limited
        fault = choose_fault(self.faults, key, occurrence)
        if self.rpm is not None and fault != "429":  # providers count failed requests too
            self.rpm.add(1, now)
        if fault is not None:
            self.stats.faults[fault] += 1
        if fault == "echo":  # needs the request's headers, which _respond does not see
            content_type, text = echo_body(self.faults, req.headers.get("authorization", ""))
            resp: Response | Drop = Response(self.faults.echo_status, text.encode("utf-8"), {}, content_type)
        else:
            resp = await self._respond(body, role, sample, key, occurrence, fault, now)
        self.stats.log.append((now - self.stats.t0, role or "", key, resp.status if isinstance(resp, Response) else 0))
        return resp

    async def _respond(self, body: dict[str, Any], role: str | None, sample: int, key: str, occurrence: int,
                       fault: str | None, now: float) -> Response | Drop:
        if fault == "429":
            wait = self.faults.retry_after_s
            return _error(429, "Rate limit reached (injected)", "requests",
                          {"retry-after": f"{wait:g}", "retry-after-ms": str(int(wait * 1000))})
        request = parse_chat_request(body)  # already checked by _validate
        made = Generated([], _prompt_tokens(body))
        if fault in (None, "length"):
            try:
                async with self.slots.hold():
                    made = await make_choices(self.backend, request, sample, role)
            except Refusal as refusal:  # response_format could not be met
                return _refused(refusal)
            except Exception as exc:  # a backend bug is the server's error, not the client's
                return _error(500, f"backend failed: {type(exc).__name__}: {exc}", "server_error")
            if fault == "length":
                made = halved(made)
        spent = made.prompt_tokens + made.completion_tokens
        if self.tpm is not None:
            self.tpm.add(spent, now)
        self.stats.tokens += spent
        await asyncio.sleep(choose_latency(self.faults, key, occurrence))
        if fault == "timeout":
            await asyncio.sleep(self.faults.timeout_hold_s)
            return Drop()
        if fault == "drop":
            return Drop()
        if fault in ("500", "503"):
            return _error(int(fault), "The server had an error processing your request (injected)", "server_error")
        headers = self._limit_headers(time.monotonic())
        if fault == "malformed":
            return Response(200, b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "message": {"rol', headers)
        if fault is None or fault == "length":
            self.stats.served += 1
            self.stats.by_role[role or "unknown"] += 1
            if self.stats.by_hash[key]:
                self.stats.duplicates += 1
            self.stats.by_hash[key] += 1
        return self._reply(request, made, headers)

    def _reply(self, request: ChatRequest, made: Generated, headers: dict[str, str]) -> Response:
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()),
                "model": str(request.body.get("model") or self.model_name)}
        if request.stream:
            events = stream_body(head, made.choices, made.prompt_tokens, request.include_usage)
            return Response(200, events, {**headers, "cache-control": "no-cache"}, "text/event-stream")
        return Response.json(200, completion_body(head, made.choices, made.prompt_tokens), headers)


def build_server(backend: Backend, faults: FaultConfig | None = None, limits: LimitConfig | None = None,
                 host: str = "127.0.0.1", port: int = 0, model_name: str | None = None,
                 batch: BatchConfig | None = None) -> OpenAIServer:
    """The hook every caller uses: `lion serve`, `running_server`, the tests and the benchmark."""
    return OpenAIServer(backend, faults, limits, host, port, model_name, batch)
