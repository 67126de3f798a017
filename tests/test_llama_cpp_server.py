"""lion against a server it did not write: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`, SmolLM2-135M-Instruct GGUF, one request at a time) as teacher, referee
and generator.

- the engine, wired as `lion run` wires it, records a call with the server's own usage numbers;
- the official `openai` SDK gets the same answers from it (a reference for what "compatible" means);
- `lion check --probe` passes on a project pointing at it;
- what it does with a JSON schema for the reply (what structured referee replies can rely on);
- one iteration with lion's default concurrency finishes and every referee reply is read, asked for
  under the referee's JSON schema in the shape this server takes (json_object + schema);
- SIGKILL during the referee step, then `lion resume`: no recorded answer is asked for again.

Run with -s to see each run's numbers per stage (requests, retries, timeouts, the server's disconnects).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.llama_cpp_support import (
    LlamaServer,
    llama_project,
    print_numbers,
    span_numbers,
    stage_spans,
    start_lion_logged,
)
from tests.loop_helpers import lion, wait_for

pytestmark = pytest.mark.slow

SCORES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string", "maxLength": 80},
                   "score_1": {"type": "integer", "minimum": 1, "maximum": 10},
                   "score_2": {"type": "integer", "minimum": 1, "maximum": 10}},
    "required": ["reasoning", "score_1", "score_2"],
    "additionalProperties": False,
}
REFEREE_MESSAGES = [{"role": "user", "content": (
    "Question: What is 2 + 2?\nAssistant 1: 4.\nAssistant 2: 5.\n"
    "Score each answer from 1 to 10 and reply in JSON with reasoning, score_1 and score_2.")}]


def _rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- the parts, one at a time -----------------------------------------------------------------------

async def test_engine_records_a_call_with_the_servers_usage(llama_server: LlamaServer, tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    from lion_cli.cli.wiring import build_engine
    from lion_cli.config import load_settings
    from lion_cli.store.db import open_store

    project = llama_project(tmp_path, llama_server, tiny_model_dir)
    settings = load_settings(project / "lion.toml")
    messages = [{"role": "user", "content": "Name the three primary colours."}]
    before = llama_server.counts()
    with open_store(project / "lion.db") as store:
        async with build_engine(settings, store) as engine:
            first = await engine.chat("teacher", messages)
            again = await engine.chat("teacher", messages)
    assert first.text.strip() and not first.cached
    assert again.cached and again.text == first.text
    calls = _rows(project / "lion.db", "SELECT role, model, status, ok, cached, prompt_tokens, completion_tokens, "
                  "cache_key FROM api_calls ORDER BY id")
    assert [c[:5] for c in calls] == [("teacher", "smollm2", 200, 1, 0), ("teacher", "smollm2", None, 1, 1)]
    (body,) = _rows(project / "lion.db", "SELECT response_json FROM request_cache WHERE key = ?", (calls[0][7],))
    usage = json.loads(body[0])["usage"]  # what the server itself counted
    assert (calls[0][5], calls[0][6]) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert usage["prompt_tokens"] > len(messages[0]["content"].split())  # the chat template's tokens too
    assert 0 < usage["completion_tokens"] <= settings.teacher.max_tokens
    after = llama_server.settled_counts(since=0.0)
    assert after.answered - before.answered == 1  # the cache hit never reached the server


def test_openai_sdk_against_the_same_server(llama_server: LlamaServer) -> None:
    import openai

    client = openai.OpenAI(base_url=llama_server.url, api_key="not-checked", max_retries=0, timeout=120)
    assert [m.id for m in client.models.list()] == ["smollm2"]
    reply = client.chat.completions.create(model="smollm2", max_tokens=8, temperature=0.0,
                                           messages=[{"role": "user", "content": "Reply with OK."}])
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8


def test_lion_check_probe_passes(llama_server: LlamaServer, tiny_model_dir: Path, tmp_path: Path) -> None:
    project = llama_project(tmp_path, llama_server, tiny_model_dir)
    listed = httpx.get(f"{llama_server.url}/models", timeout=60).json()
    assert [m["id"] for m in listed["data"]] == ["smollm2"]  # --model_alias, the name lion.toml gives
    before = llama_server.counts()
    done = lion("check", str(project), "--probe", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    after = llama_server.settled_counts()
    print(f"\nlion check --probe: {after.answered - before.answered} chat requests answered, "
          f"{after.refused - before.refused} refused")
    assert after.answered > before.answered  # its chat request did reach this server


def test_response_format_json_schema(llama_server: LlamaServer) -> None:
    """llama-cpp-python 0.3.36 refuses OpenAI's `{"type": "json_schema", ...}` with HTTP 500 (a request
    validation error reported as a server error, which a client retries as transient) and takes the schema
    as `{"type": "json_object", "schema": ...}` instead, as a grammar: the reply is JSON of the schema's
    shape, but `minimum`/`maximum` are not enforced (its grammar converter ignores them); an `enum` is."""
    url = f"{llama_server.url}/chat/completions"
    base = {"model": "smollm2", "messages": REFEREE_MESSAGES, "max_tokens": 96, "temperature": 0.2}
    openai_shape = {"type": "json_schema", "json_schema": {"name": "scores", "schema": SCORES_SCHEMA}}
    refused = httpx.post(url, json={**base, "response_format": openai_shape}, timeout=300)
    print(f"\njson_schema: HTTP {refused.status_code} {refused.text[:300]}")
    assert refused.status_code == 500
    assert "response_format" in refused.text and "json_object" in refused.text

    enum_schema = json.loads(json.dumps(SCORES_SCHEMA))
    for key in ("score_1", "score_2"):
        enum_schema["properties"][key] = {"type": "integer", "enum": list(range(1, 11))}
    for schema in (SCORES_SCHEMA, enum_schema):
        resp = httpx.post(url, json={**base, "response_format": {"type": "json_object", "schema": schema}},
                          timeout=300)
        print(f"json_object+schema: HTTP {resp.status_code} {resp.text[:400]}")
        assert resp.status_code == 200, resp.text
        choice = resp.json()["choices"][0]
        if choice["finish_reason"] != "stop":  # cut off by max_tokens: the JSON is unfinished
            continue
        reply = json.loads(choice["message"]["content"])
        assert set(reply) == {"reasoning", "score_1", "score_2"}
        assert all(isinstance(reply[k], int) for k in ("score_1", "score_2"))
        if schema is enum_schema:
            assert 1 <= reply["score_1"] <= 10 and 1 <= reply["score_2"] <= 10


async def test_the_log_shows_answers_generated_for_clients_that_left(llama_server: LlamaServer) -> None:
    """What the closing numbers rest on: a client that gives up while its request is generated leaves a
    completion and no 200 in the log; one that gives up while queued leaves a disconnect line."""
    import asyncio

    payload = {"model": "smollm2", "max_tokens": 256, "temperature": 0.0, "messages": [
        {"role": "user", "content": "Write a long story about a lighthouse keeper."}]}
    before = llama_server.settled_counts()
    async with httpx.AsyncClient(base_url=llama_server.url, timeout=0.5) as client:
        outcomes = await asyncio.gather(*(client.post("/chat/completions", json=payload) for _ in range(2)),
                                        return_exceptions=True)
    assert all(isinstance(o, httpx.TimeoutException) for o in outcomes), outcomes
    after = llama_server.settled_counts()
    assert after.answered == before.answered
    assert after.generated - before.generated == 1      # the one the model had started: finished for nobody
    assert after.disconnects - before.disconnects == 1  # the queued one: dropped when its turn came


# --- one iteration with lion's default concurrency ----------------------------------------------------

def _judgement_problems(db: Path) -> dict[str, int]:
    """The referee's replies: how many, how many unreadable or unscored, how many were JSON objects
    (asked under its schema), and the shape of response_format remembered for the server."""
    (unreadable, unscored, total) = _rows(db, "SELECT (SELECT COUNT(*) FROM judgements WHERE parse_error IS NOT NULL "
                                              "OR teacher_score IS NULL), (SELECT COUNT(*) FROM labels WHERE "
                                              "label = 'unscored'), (SELECT COUNT(*) FROM judgements)")[0]
    structured = 0
    for (raw,) in _rows(db, "SELECT raw_text FROM judgements"):
        try:
            # read as lion reads them (core/reply_schemas.py): raw newlines inside strings allowed
            structured += isinstance(json.loads(raw, strict=False), dict)
        except (TypeError, ValueError):
            pass
    shapes = sorted(str(shape) for (shape,) in _rows(db, "SELECT reply_shape FROM endpoint_capabilities"))
    return {"judgements": total, "unreadable": unreadable, "unscored": unscored, "structured": structured,
            "shape": ",".join(shapes)}


def _assert_all_read_under_the_schema(problems: dict[str, int]) -> None:
    assert problems["unreadable"] == 0 and problems["unscored"] == 0, problems
    assert problems["structured"] == problems["judgements"], problems
    assert problems["shape"] == "json_object+schema", problems


def _run_to_end(args: list[str], log: Path, timeout: float) -> int:
    proc = start_lion_logged(*args, log=log)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


@pytest.mark.timeout(1800)
def test_one_iteration_finishes_and_every_referee_reply_is_read(llama_server: LlamaServer, tiny_model_dir: Path,
                                                                tmp_path: Path) -> None:
    project = llama_project(tmp_path, llama_server, tiny_model_dir)
    db, log = project / "lion.db", tmp_path / "lion-run.log"
    t0 = time.time()
    code = _run_to_end(["run", str(project)], log, timeout=1500)
    t1 = time.time()
    llama_server.settled_counts(since=t0)
    rows = [span_numbers(name, start, end, db, llama_server, log) for name, start, end in stage_spans(db)]
    rows.append(span_numbers("whole run", t0, t1, db, llama_server, log))
    problems = _judgement_problems(db)
    print_numbers(f"lion run against llama_cpp.server (exit {code}); referee: {problems}", rows)
    assert code == 0, _tail(log)
    assert problems["judgements"] >= 2 * 6
    _assert_all_read_under_the_schema(problems)


@pytest.mark.timeout(1800)
def test_sigkill_in_the_referee_step_then_resume_repeats_no_recorded_request(
        llama_server: LlamaServer, tiny_model_dir: Path, tmp_path: Path) -> None:
    project = llama_project(tmp_path, llama_server, tiny_model_dir)
    db, log = project / "lion.db", tmp_path / "lion-run.log"
    paid = "SELECT cache_key FROM api_calls WHERE cached = 0 AND ok = 1"
    t0 = time.time()
    proc = start_lion_logged("run", str(project), log=log)
    try:
        wait_for(db, "SELECT COUNT(*) >= 4 FROM judgements WHERE iteration = 0", proc, timeout=1200)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    recorded = {k for (k,) in _rows(db, paid)}
    judged = _rows(db, "SELECT instruction_id, order_name, attempt, raw_text FROM judgements ORDER BY id")
    before_kill = llama_server.settled_counts(since=t0)  # it finishes what it had taken, for nobody
    settled_at = time.time()

    t1 = time.time()
    code = _run_to_end(["resume", str(project)], log, timeout=1500)
    t2 = time.time()
    llama_server.settled_counts(since=t1)
    rows = [span_numbers("run until SIGKILL, and the server finishing", t0, settled_at, db, llama_server, log),
            *[span_numbers(name, max(start, t1), end, db, llama_server, log)
              for name, start, end in stage_spans(db) if end >= t1],
            span_numbers("resume", t1, t2, db, llama_server, log)]
    print_numbers(f"SIGKILL during the referee step, then lion resume (exit {code}); "
                  f"killed with {len(judged)} judgements recorded; answered by the server but not recorded "
                  f"before the kill: {before_kill.answered - len(recorded)}", rows)

    asked_again = _rows(db, "SELECT cache_key, COUNT(*) FROM api_calls WHERE cached = 0 AND ok = 1 "
                            "GROUP BY cache_key HAVING COUNT(*) > 1")
    assert asked_again == [], asked_again
    resumed = {k for (k,) in _rows(db, paid + " AND ts >= ?", (t1,))}
    assert not (resumed & recorded)
    # The server answered during the resume exactly the requests lion recorded as paid then: no
    # request went out that lion did not record, none twice (the reply shape was remembered: no probe).
    assert llama_server.counts(t1, t2).answered == len(resumed)
    # The verdicts recorded before the kill are kept as they were.
    kept = _rows(db, "SELECT instruction_id, order_name, attempt, raw_text FROM judgements ORDER BY id")
    assert kept[:len(judged)] == judged
    assert code == 0, _tail(log)
    _assert_all_read_under_the_schema(_judgement_problems(db))
