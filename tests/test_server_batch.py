"""`lion serve --scripted` speaks OpenAI's batch API, with the official `openai` SDK as the client:
files uploaded (multipart, purpose batch), retrieved and read back; batches created, polled through
validating → in_progress → finalizing → completed, listed and cancelled; each answered line counted by
the server like a chat request; and the faults: failed lines, an expired batch, a failed upload, an
invalid input file (the batch fails at validation)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest

from lion_cli.server.app import build_server
from lion_cli.server.batch import BatchConfig
from lion_cli.server.process import running_server
from lion_cli.server.runner import server_in_thread
from lion_cli.server.scripted import ScriptedBackend
from tests.llm_support import TEACHER_PROMPT, stats

FINISHED = ("completed", "failed", "expired", "cancelled")


@contextmanager
def batch_server(**config: Any) -> Iterator[tuple[openai.OpenAI, str]]:
    server = build_server(ScriptedBackend(bad_reply_rate=0.0), batch=BatchConfig(**config))
    with server_in_thread(server) as url:
        yield openai.OpenAI(base_url=url, api_key="x", max_retries=0), url


def request_lines(n: int, role: str = "teacher") -> bytes:
    rows = [{"custom_id": f"{role}:{i}", "method": "POST", "url": "/v1/chat/completions",
             "body": {"model": "scripted", "max_tokens": 64,
                      "messages": [{"role": "user", "content": TEACHER_PROMPT.format(f"Name fruit number {i}.")}]}}
            for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def upload(client: openai.OpenAI, data: bytes) -> str:
    return client.files.create(file=("requests.jsonl", io.BytesIO(data)), purpose="batch").id


def wait(client: openai.OpenAI, batch_id: str, timeout: float = 20) -> tuple[Any, list[str]]:
    """The finished batch and every status seen while polling."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != batch.status:
            seen.append(batch.status)
        if batch.status in FINISHED:
            return batch, seen
        time.sleep(0.01)
    raise AssertionError(f"batch {batch_id} still {seen[-1]} after {timeout} s")


def jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]


def create(client: openai.OpenAI, data: bytes) -> Any:
    return client.batches.create(input_file_id=upload(client, data), endpoint="/v1/chat/completions",
                                 completion_window="24h", metadata={"stage": "test"})


def test_a_batch_goes_through_every_status_and_its_lines_are_served_once() -> None:
    with batch_server(delay_s=0.3) as (client, url):
        data = request_lines(5)
        file_id = upload(client, data)
        card = client.files.retrieve(file_id)
        assert (card.purpose, card.bytes, card.filename) == ("batch", len(data), "requests.jsonl")
        assert client.files.content(file_id).content == data
        created = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                                        completion_window="24h")
        assert created.status == "validating"
        batch, seen = wait(client, created.id)
        served = stats(url)
        out = jsonl(client, batch.output_file_id)
    assert seen == ["validating", "in_progress", "finalizing", "completed"]
    assert batch.request_counts is not None and (batch.request_counts.total, batch.request_counts.completed,
                                                 batch.request_counts.failed) == (5, 5, 0)
    assert batch.error_file_id is None and batch.completed_at and batch.in_progress_at
    assert sorted(x["custom_id"] for x in out) == [f"teacher:{i}" for i in range(5)]
    assert all(x["response"]["status_code"] == 200 and x["response"]["body"]["choices"] for x in out)
    # Each line is a chat request the server answered once, counted under the custom_id's role.
    assert (served["received"], served["duplicates"], served["by_role"]) == (5, 0, {"teacher": 5})
    assert served["batch"]["batches"] == {"completed": 1}


def test_failed_lines_go_to_the_error_file_and_draw_again_when_resent() -> None:
    with batch_server(fail_line_rate=0.5, seed=3) as (client, url):
        batch, _ = wait(client, create(client, request_lines(20)).id)
        failed = jsonl(client, batch.error_file_id)
        done = jsonl(client, batch.output_file_id)
        again = b"".join(line for line in request_lines(20).splitlines(keepends=True)
                         if json.loads(line)["custom_id"] in {x["custom_id"] for x in failed})
        second, _ = wait(client, create(client, again).id)
        served = stats(url)["served"]
    assert batch.status == "completed" and 0 < len(failed) < 20 and len(done) + len(failed) == 20
    assert all(x["response"] is None and x["error"]["code"] == "server_error" for x in failed)
    assert second.request_counts is not None and second.request_counts.completed > 0
    assert served == len(done) + second.request_counts.completed   # a failed line was never answered


def test_an_expired_batch_keeps_its_answers_and_lists_the_rest() -> None:
    with batch_server(expire_after=3) as (client, url):
        batch, seen = wait(client, create(client, request_lines(7)).id)
        served = stats(url)["served"]
        out, rest = jsonl(client, batch.output_file_id), jsonl(client, batch.error_file_id)
    assert seen[-1] == "expired" and batch.expired_at
    assert len(out) == 3 == served
    assert sorted(x["custom_id"] for x in rest) == [f"teacher:{i}" for i in range(3, 7)]
    assert {x["error"]["code"] for x in rest} == {"batch_expired"}


def test_a_failed_upload_answers_500_and_the_next_is_taken() -> None:
    with batch_server(fail_uploads=1) as (client, url):
        with pytest.raises(openai.InternalServerError):
            upload(client, request_lines(1))
        file_id = upload(client, request_lines(1))
        assert client.files.retrieve(file_id).bytes == len(request_lines(1))
        assert stats(url)["batch"]["uploads_refused"] == 1


def test_an_invalid_input_fails_at_validation_and_sends_nothing() -> None:
    with batch_server() as (client, url):
        bad = request_lines(2) + b"not json\n" + b'{"custom_id": "x", "method": "GET", "url": "/v1/models"}\n'
        batch, seen = wait(client, create(client, bad).id)
        served = stats(url)["served"]
    assert seen[-1] == "failed" and batch.errors is not None and batch.errors.data
    assert sorted((e.code, e.line) for e in batch.errors.data) == [("invalid_json_line", 3), ("invalid_request", 4)]
    assert served == 0 and batch.output_file_id is None


def test_cancel_and_list() -> None:
    with batch_server(delay_s=0.5) as (client, _url):
        first = create(client, request_lines(2))
        second = create(client, request_lines(2))
        assert client.batches.cancel(second.id).status == "cancelling"
        cancelled, seen = wait(client, second.id)
        page = client.batches.list(limit=1)
        listed = [b.id for b in client.batches.list(limit=10)]
        finished, _ = wait(client, first.id)
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch-nope")
    assert seen[-1] == "cancelled" and cancelled.cancelled_at
    assert [b.id for b in page.data] == [listed[0]] and page.has_more
    assert set(listed) == {first.id, second.id}
    assert finished.status == "completed"


def test_lion_serve_takes_the_batch_settings() -> None:
    with running_server(backend="scripted", batch="delay_s=0.05,expire_after=1") as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        batch, seen = wait(client, create(client, request_lines(2)).id)
    assert seen[-1] == "expired" and batch.request_counts is not None and batch.request_counts.completed == 1
