"""The batch API of the local server: /v1/files and /v1/batches as OpenAI serves them.

A JSONL of chat requests is uploaded (multipart, purpose "batch"), a batch is created on it and goes
validating → in_progress → finalizing → completed (or failed at validation, expired, cancelled), each
step after the configured delay; its lines are answered one by one by the server's own chat route, so
the server's counts (received, served, duplicates, by_role) include them. The output file holds one
line per answered request and the error file one per failed line, each with the request's custom_id.
A custom_id "role:…" counts the line under that role (a batch line carries no X-Lion-Role header), and
"role:n:…" answers it as sample n (no X-Lion-Sample header either).

Faults (BatchConfig): failed lines (a share, drawn from the custom_id), an expired batch (after a
number of lines; the rest go to the error file as batch_expired), failed uploads (the first n answer 500),
failed polls (503) and downloads (502), each the first n.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from lion_cli.server.http import Request, Response

LineRunner = Callable[[dict[str, Any], str], Awaitable[tuple[int, dict[str, Any]]]]   # (body, custom_id)
CHAT_URL = "/v1/chat/completions"
ROLES = ("teacher", "referee", "generator", "judge")


@dataclass(frozen=True)
class BatchConfig:
    delay_s: float = 0.0            # before each status change
    fail_line_rate: float = 0.0     # share of lines answered with an error instead
    fail_first_arrival: int = 0     # 1: every line fails the first time it arrives (and is served when sent again)
    expire_after: int = -1          # lines served before the batch expires (-1: never)
    fail_uploads: int = 0           # the first n uploads answer 500
    fail_polls: int = 0             # the first n polls of a batch (GET /v1/batches/{id}) answer 503
    fail_downloads: int = 0         # the first n downloads of a file's content answer 502
    content_delay_s: float = 0.0    # before a file's content is sent (a slow download)
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> BatchConfig:
        """`delay_s=0.2,fail_line_rate=0.1,expire_after=3,fail_uploads=1` (`lion serve --batch`)."""
        kinds = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name not in kinds:
                raise ValueError(f"unknown batch setting {name!r} (expected one of {', '.join(kinds)})")
            values[name] = float(value) if kinds[name] == "float" else int(value)
        return cls(**values)


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def card(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed"}


@dataclass
class BatchJob:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    status: str = "validating"
    times: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None

    def card(self) -> dict[str, Any]:
        stamps = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint, "input_file_id": self.input_file_id,
                "completion_window": self.completion_window, "status": self.status,
                "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
                "created_at": self.times["created"], "expires_at": self.times["created"] + 86400,
                **{f"{s}_at": self.times.get(s) for s in stamps}, "request_counts": dict(self.counts),
                "errors": {"object": "list", "data": self.errors} if self.errors else None,
                "metadata": self.metadata}


def batch_error(status: int, message: str, code: str | None = None) -> Response:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return Response.json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


def multipart_fields(req: Request) -> dict[str, tuple[str | None, bytes]]:
    """name → (filename, bytes) of a multipart/form-data body."""
    head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + req.body)
    if not message.is_multipart():
        raise ValueError("expected a multipart/form-data body")
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str):
            out[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return out


def line_role(custom_id: str) -> str | None:
    prefix = custom_id.split(":", 1)[0]
    return prefix if prefix in ROLES else None


def line_sample(custom_id: str) -> str | None:
    """lion's custom_id "role:sample:key" carries the sample index an online request sends as X-Lion-Sample."""
    parts = custom_id.split(":")
    return parts[1] if len(parts) == 3 and parts[1].isdigit() else None
