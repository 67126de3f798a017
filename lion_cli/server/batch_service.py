"""The batch routes and the work behind them (the files, jobs and faults are in batch.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import Counter
from typing import Any

from lion_cli.server.batch import (
    CHAT_URL,
    BatchConfig,
    BatchJob,
    LineRunner,
    StoredFile,
    batch_error,
    multipart_fields,
)
from lion_cli.server.http import Request, Response


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def read_lines(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(request lines, validation errors) of an uploaded batch input, as OpenAI's validation reports them."""
    lines, errors, seen = [], [], set()
    for n, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            errors.append({"code": "invalid_json_line", "message": "this line is not JSON", "line": n})
            continue
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(custom_id, str) or custom_id in seen:
            errors.append({"code": "invalid_custom_id", "message": "custom_id missing or not unique", "line": n})
        elif line.get("method") != "POST" or line.get("url") != CHAT_URL or not isinstance(line.get("body"), dict):
            errors.append({"code": "invalid_request", "message": f"expected POST {CHAT_URL} with a body", "line": n})
        else:
            seen.add(custom_id)
            lines.append(line)
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "the input file has no requests", "line": None})
    return lines, errors


class BatchService:
    def __init__(self, config: BatchConfig, run_line: LineRunner) -> None:
        self.config = config
        self.run_line = run_line
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, BatchJob] = {}
        self.uploads_refused = 0
        self.refused: Counter[str] = Counter()   # polls and downloads answered with an injected 5xx
        self._line_arrivals: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def as_json(self) -> dict[str, Any]:
        return {"files": len(self.files), "uploads_refused": self.uploads_refused,
                "polls_refused": self.refused["poll"], "downloads_refused": self.refused["download"],
                "batches": dict(Counter(b.status for b in self.batches.values())),
                "lines_served": sum(b.counts["completed"] for b in self.batches.values())}

    async def handle(self, req: Request, path: str) -> Response | None:
        """The answer to a /v1/files or /v1/batches request; None for any other path."""
        parts = path.removeprefix("/v1/").split("/")
        if parts[0] == "files":
            if parts[-1] == "content":
                await asyncio.sleep(self.config.content_delay_s)
                if self._refuse("download", self.config.fail_downloads):
                    return batch_error(502, "Bad gateway while reading the file (injected)")
            return self._files(req, parts[1:])
        if parts[0] == "batches":
            if len(parts) == 2 and req.method == "GET" and self._refuse("poll", self.config.fail_polls):
                return batch_error(503, "The batch service is briefly unavailable (injected)")
            return self._batches(req, parts[1:])
        return None

    def _refuse(self, kind: str, first: int) -> bool:
        """True for the first `first` requests of this kind (an injected fault)."""
        if self.refused[kind] >= first:
            return False
        self.refused[kind] += 1
        return True

    def _files(self, req: Request, rest: list[str]) -> Response:
        if not rest and req.method == "POST":
            return self._upload(req)
        if not rest and req.method == "GET":
            return Response.json(200, {"object": "list", "data": [f.card() for f in self.files.values()]})
        stored = self.files.get(rest[0]) if rest else None
        if stored is None:
            return batch_error(404, f"No such File object: {rest[0] if rest else ''}")
        if len(rest) == 2 and rest[1] == "content" and req.method == "GET":
            return Response(200, stored.data, {}, "application/octet-stream")
        if len(rest) == 1 and req.method == "GET":
            return Response.json(200, stored.card())
        return batch_error(405, f"no route {req.method} {req.path}")

    def _upload(self, req: Request) -> Response:
        if self.uploads_refused < self.config.fail_uploads:
            self.uploads_refused += 1
            return batch_error(500, "The server had an error while processing the upload (injected)")
        try:
            form = multipart_fields(req)
        except ValueError as exc:
            return batch_error(400, str(exc))
        purpose = form.get("purpose", (None, b""))[1].decode()
        if "file" not in form or purpose != "batch":
            return batch_error(400, "expected a 'file' part and purpose 'batch'")
        stored = StoredFile(_new_id("file"), form["file"][0] or "upload.jsonl", purpose, form["file"][1])
        self.files[stored.id] = stored
        return Response.json(200, stored.card())

    def _batches(self, req: Request, rest: list[str]) -> Response:
        if not rest and req.method == "POST":
            return self._create(req)
        if not rest and req.method == "GET":
            return self._list(req)
        job = self.batches.get(rest[0]) if rest else None
        if job is None:
            return batch_error(404, f"No such Batch object: {rest[0] if rest else ''}")
        if len(rest) == 1 and req.method == "GET":
            return Response.json(200, job.card())
        if len(rest) == 2 and rest[1] == "cancel" and req.method == "POST":
            if job.status in ("validating", "in_progress"):
                job.status, job.times["cancelling"] = "cancelling", int(time.time())
            elif job.status not in ("cancelling", "cancelled"):
                return batch_error(409, f"cannot cancel a batch that is {job.status}")
            return Response.json(200, job.card())
        return batch_error(405, f"no route {req.method} {req.path}")

    def _create(self, req: Request) -> Response:
        try:
            body = json.loads(req.body)
        except ValueError:
            return batch_error(400, "the body is not JSON")
        if not isinstance(body, dict) or body.get("input_file_id") not in self.files:
            return batch_error(400, "input_file_id names no uploaded file")
        if body.get("endpoint") != CHAT_URL or body.get("completion_window") != "24h":
            return batch_error(400, f"expected endpoint {CHAT_URL} and completion_window 24h")
        job = BatchJob(_new_id("batch"), body["input_file_id"], CHAT_URL, "24h", body.get("metadata"))
        job.times["created"] = int(time.time())
        self.batches[job.id] = job
        task = asyncio.get_running_loop().create_task(self._work(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Response.json(200, job.card())

    def _list(self, req: Request) -> Response:
        newest = sorted(self.batches.values(), key=lambda b: b.times["created"], reverse=True)
        after = req.query.get("after", [""])[0]
        if after in self.batches:
            newest = newest[[b.id for b in newest].index(after) + 1:]
        limit = int(req.query.get("limit", ["20"])[0])
        page = newest[:limit]
        return Response.json(200, {"object": "list", "data": [b.card() for b in page],
                                   "first_id": page[0].id if page else None,
                                   "last_id": page[-1].id if page else None, "has_more": len(newest) > limit})

    async def _step(self, job: BatchJob, status: str) -> None:
        await asyncio.sleep(self.config.delay_s)
        if job.status != "cancelling":
            job.status, job.times[status] = status, int(time.time())

    async def _work(self, job: BatchJob) -> None:
        lines, errors = read_lines(self.files[job.input_file_id].data)
        await self._step(job, "in_progress" if not errors else "failed")
        if errors:
            job.errors = errors
            return
        job.counts["total"] = len(lines)
        out, failed = await self._answer(job, lines)
        if job.status == "cancelling":
            await asyncio.sleep(self.config.delay_s)
            job.status, job.times["cancelled"] = "cancelled", int(time.time())
        elif len(out) + len(failed) < len(lines) or job.status == "expired":
            job.status, job.times["expired"] = "expired", int(time.time())
        else:
            await self._step(job, "finalizing")
        done = {line["custom_id"] for line in out + failed}
        code = "batch_expired" if job.status == "expired" else "batch_cancelled"
        failed += [{"id": _new_id("batch_req"), "custom_id": x["custom_id"], "response": None,
                    "error": {"code": code, "message": f"this request was not run ({job.status})"}}
                   for x in lines if x["custom_id"] not in done]
        job.counts["failed"] = len(failed)
        job.output_file_id = self._result_file(job, "output", out)
        job.error_file_id = self._result_file(job, "error", failed)
        if job.status == "finalizing":
            await self._step(job, "completed")

    async def _answer(self, job: BatchJob, lines: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
        """Each line through the chat route, until the batch is cancelled or expires."""
        out: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for line in lines:
            if job.status == "cancelling" or 0 <= self.config.expire_after <= len(out):
                job.status = "expired" if job.status != "cancelling" else job.status
                break
            custom_id = line["custom_id"]
            self._line_arrivals[custom_id] += 1
            entry: dict[str, Any] = {"id": _new_id("batch_req"), "custom_id": custom_id}
            if self._fails(custom_id):
                failed.append({**entry, "response": None,
                               "error": {"code": "server_error", "message": "this line failed (injected)"}})
                continue
            status, body = await self.run_line(line["body"], custom_id)
            entry.update(response={"status_code": status, "request_id": _new_id("req"), "body": body}, error=None)
            (out if status == 200 else failed).append(entry)
            job.counts["completed"] = len(out)
            job.counts["failed"] = len(failed)
        return out, failed

    def _fails(self, custom_id: str) -> bool:
        """A failed-line fault, drawn from the line and how often it has arrived (a resent line draws again)."""
        if self.config.fail_first_arrival and self._line_arrivals[custom_id] == 1:
            return True
        if self.config.fail_line_rate <= 0:
            return False
        key = f"{self.config.seed}|{custom_id}|{self._line_arrivals[custom_id]}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64 < self.config.fail_line_rate

    def _result_file(self, job: BatchJob, kind: str, rows: list[dict[str, Any]]) -> str | None:
        if not rows:
            return None
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        stored = StoredFile(_new_id("file"), f"{job.id}_{kind}.jsonl", f"batch_{kind}", data)
        self.files[stored.id] = stored
        return stored.id
