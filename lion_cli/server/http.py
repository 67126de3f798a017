"""A small HTTP/1.1 server on asyncio streams, with keep-alive.

Written by hand (no framework) because the fault injection needs what frameworks hide: closing a
socket with no response, holding a request forever, sending a body that is not JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 32 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large", 422: "Unprocessable Entity",
           429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), headers or {})


class Drop:
    """Close the connection without answering (a dropped connection, or the end of a held request)."""


Handler = Callable[[Request], Awaitable[Response | Drop]]


class BadRequest(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line:
        return None  # the client closed a kept-alive connection
    try:
        method, target, _version = line.decode("latin-1").strip().split(" ", 2)
    except ValueError:
        raise BadRequest("malformed request line") from None
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest("malformed header line")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raise BadRequest("chunked request bodies are not supported; send Content-Length")
    length = int(headers.get("content-length", "0") or 0)
    if length < 0 or length > MAX_BODY:
        raise BadRequest("bad Content-Length")
    body = await reader.readexactly(length) if length else b""
    url = urlsplit(target)
    return Request(method.upper(), url.path, parse_qs(url.query), headers, body)


def _encode(resp: Response, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}",
            f"Content-Type: {resp.content_type}", f"Content-Length: {len(resp.body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    head += [f"{k}: {v}" for k, v in resp.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body


class HttpServer:
    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.answered_after_client_left = 0   # answers made for a client that had closed its connection

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        sock = self._server.sockets[0].getsockname()
        self.host, self.port = sock[0], sock[1]
        return self.host, self.port

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    req = await _read_request(reader)
                except BadRequest as exc:
                    error = {"message": str(exc), "type": "invalid_request_error", "param": None, "code": None}
                    writer.write(_encode(Response.json(400, {"error": error}), False))
                    await writer.drain()
                    return
                if req is None:
                    return
                resp = await self.handler(req)
                if isinstance(resp, Drop):
                    return
                if reader.at_eof():  # the client gave up while its request was being served
                    self.answered_after_client_left += 1
                    return
                keep = req.headers.get("connection", "").lower() != "close"
                writer.write(_encode(resp, keep))
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # close() cancels held requests. This is the connection's top-level task: ending it
            # normally spares asyncio's stream callback from logging the cancellation as an error.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):  # held (timeout-fault) requests would otherwise keep us alive
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
