"""Which shape of response_format an endpoint takes a JSON schema in: OpenAI's json_schema, or
json_object + schema (llama-cpp-python's server, which refuses the first with an HTTP 500). The
probe tries both in that order, the verdict is remembered per endpoint in the store (migration
0012), the engine sends the remembered shape, and `lion check --probe` names it.

The servers here are tiny stand-ins (http.server on a loopback port) that behave like llama.cpp's
in the one respect that matters: which shapes they refuse and with what."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.reply_schemas import REFEREE_REPLY
from lion_cli.llm.engine import LLMEngine
from lion_cli.llm.probe import SchemaProbe, find_reply_shape
from lion_cli.llm.protocols import MemoryCallLog, MemoryCapabilities
from tests.llm_support import spec

# llama-cpp-python 0.3.36's answer to {"type": "json_schema", ...}: its request validation error, as a 500.
LLAMA_CPP_REFUSAL = {"error": {"message": "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                                          "'msg': \"Input should be 'text' or 'json_object'\"}]",
                               "type": "internal_server_error"}}


def _example(schema: dict[str, Any]) -> dict[str, Any]:
    """A reply that fits one of the object schemas lion sends (probe, referee verdict)."""
    values = {"ok": True, "reasoning": "The first answer is right.", "assistant_1": 8, "assistant_2": 3,
              "instruction": "Name a river."}
    return {key: values[key] for key in schema["properties"]}


@dataclass
class Behaviour:
    """What the stand-in does with each shape: "answer" (JSON under the schema), or (status, body)."""

    json_schema: str | tuple[int, dict[str, Any]] = "answer"
    json_object: str | tuple[int, dict[str, Any]] = "answer"
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _reply(behaviour: Behaviour, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    action = behaviour.json_schema if kind == "json_schema" else behaviour.json_object
    if kind is not None and action != "answer":
        assert isinstance(action, tuple)
        return action
    if kind == "json_schema":
        text = json.dumps(_example(fmt["json_schema"]["schema"]))
    elif kind == "json_object" and "schema" in fmt:
        text = json.dumps(_example(fmt["schema"]))
    else:
        text = "Assistant 1: 8\nAssistant 2: 3"
    return 200, {"id": "x", "object": "chat.completion", "model": body.get("model"),
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


@contextmanager
def stand_in(behaviour: Behaviour, model: str = "scripted") -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": model, "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            behaviour.bodies.append(body)
            self._send(*_reply(behaviour, body))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _formats(behaviour: Behaviour) -> list[Any]:
    return [b.get("response_format", {}).get("type") for b in behaviour.bodies]


LLAMA_CPP = {"json_schema": (500, LLAMA_CPP_REFUSAL)}


async def test_a_server_that_refuses_json_schema_is_asked_in_the_json_object_shape() -> None:
    behaviour, known, calls = Behaviour(**LLAMA_CPP), MemoryCapabilities(), MemoryCallLog()  # type: ignore[arg-type]
    with stand_in(behaviour) as url:
        async with LLMEngine({"referee": spec(url)}, capabilities=known, call_log=calls) as engine:
            fmt = await engine.response_format("referee", REFEREE_REPLY)
            # the schema as a grammar takes it: free text bounded by the endpoint's max_tokens
            assert fmt == REFEREE_REPLY.response_format("json_object+schema", max_tokens=spec(url).max_tokens)
            assert fmt["type"] == "json_object" and fmt["schema"]["properties"]["reasoning"]["maxLength"] > 0
            reply = await engine.chat("referee", [{"role": "user", "content": "Judge."}], response_format=fmt)
        assert json.loads(reply.text)["assistant_1"] == 8
        assert _formats(behaviour) == ["json_schema", "json_object", "json_object"]  # two probes, one verdict
        assert behaviour.bodies[-1]["response_format"]["schema"]["properties"]["assistant_2"]["enum"] == list(
            range(1, 11))
        (shape, detail), = known.items.values()
        assert shape == "json_object+schema" and "HTTP 500" in detail
        # Each probe is an attempt of its own in the call log, the refusal with its status.
        assert [(r.status, r.ok) for r in calls.records] == [(500, False), (200, True), (200, True)]

        # A new engine over what was remembered: no probe, straight to the remembered shape.
        async with LLMEngine({"referee": spec(url), "generator": spec(url)}, capabilities=known) as engine:
            assert await engine.response_format("generator", REFEREE_REPLY) == fmt
        assert len(behaviour.bodies) == 3


@pytest.mark.parametrize(("structured", "expected"), [("auto", None), ("on", "json_schema"), ("off", None)])
async def test_a_server_that_refuses_both_shapes_gets_free_text(structured: str, expected: str | None) -> None:
    refusal = (400, {"error": {"message": "Unrecognized request argument: response_format"}})
    behaviour, known = Behaviour(json_schema=refusal, json_object=refusal), MemoryCapabilities()
    with stand_in(behaviour) as url:
        async with LLMEngine({"referee": spec(url, structured=structured)}, capabilities=known) as engine:
            fmt = await engine.response_format("referee", REFEREE_REPLY)
    assert (fmt or {}).get("type") == expected  # "on" asks anyway, in OpenAI's shape
    if structured == "off":
        assert behaviour.bodies == [] and known.items == {}
    else:
        assert _formats(behaviour) == ["json_schema", "json_object"]
        assert [shape for shape, _ in known.items.values()] == ["text"]


async def test_a_refusal_that_names_nothing_is_not_remembered() -> None:
    opaque = (500, {"error": {"message": "Internal Server Error"}})
    behaviour, known = Behaviour(json_schema=opaque, json_object=opaque), MemoryCapabilities()
    with stand_in(behaviour) as url:
        async with LLMEngine({"referee": spec(url)}, capabilities=known) as engine:
            assert await engine.response_format("referee", REFEREE_REPLY) is None
            assert await engine.response_format("referee", REFEREE_REPLY) is None  # decided for this run
    assert _formats(behaviour) == ["json_schema", "json_object"] and known.items == {}


async def test_an_endpoint_that_does_not_answer_is_probed_in_one_shape_only() -> None:
    asked: list[str] = []

    async def probe(shape: str) -> SchemaProbe:
        asked.append(shape)
        return SchemaProbe(False, False, "no answer (ConnectError)")

    verdict = await find_reply_shape(probe)  # type: ignore[arg-type]
    assert asked == ["json_schema"] and verdict.shape is None and not verdict.conclusive


def test_the_store_remembers_the_shape_and_migration_0012_forgets_json_schema_only_refusals(tmp_path: Path) -> None:
    from lion_cli.store.capabilities import StoreCapabilities
    from lion_cli.store.db import available_migrations, connect, migrate, open_store

    db = tmp_path / "lion.db"
    conn = connect(db)
    migrate(conn, [m for m in available_migrations() if m.name < "0012"])
    conn.executemany("INSERT INTO endpoint_capabilities (base_url, model, structured, detail) VALUES (?,?,?,?)",
                     [("http://a/v1", "m", 1, "answered"), ("http://b/v1", "m", 0, "HTTP 400: response_format")])
    conn.close()
    with open_store(db) as store:
        known = StoreCapabilities(store)
        assert known.reply_shape("http://a/v1", "m") == "json_schema"
        assert known.reply_shape("http://b/v1", "m") is None  # asked in one shape only: probed again
        known.remember_reply_shape("http://b/v1", "m", "json_object+schema", "answered")
        known.remember_reply_shape("http://c/v1", "m", "text", "refused both")
        assert known.reply_shape("http://b/v1", "m") == "json_object+schema"
        rows = store.conn.execute("SELECT base_url, structured, reply_shape FROM endpoint_capabilities "
                                  "ORDER BY base_url").fetchall()
    assert [tuple(r) for r in rows] == [("http://a/v1", 1, "json_schema"), ("http://b/v1", 1, "json_object+schema"),
                                        ("http://c/v1", 0, "text")]


def test_lion_check_probe_names_the_shape(tmp_path: Path, lion_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from tests.check_support import make_ready_project, write_model_folder

    monkeypatch.setenv("LION_CACHE_DIR", str(tmp_path / "lion-cache"))
    behaviour = Behaviour(**LLAMA_CPP)  # type: ignore[arg-type]
    with stand_in(behaviour) as url:
        project = make_ready_project(tmp_path, url, write_model_folder(tmp_path / "model"))
        result = lion_cli("check", str(project), "--probe")
    assert result.exit_code == 0, result.stderr
    note = next(line for line in result.stderr.splitlines() if line.startswith("note: referee, generator:"))
    assert "structured replies in the json_object+schema shape" in note and "HTTP 500" in note, note
    assert _formats(behaviour) == [None, "json_schema", "json_object"]  # the tiny chat, then the two shapes


def test_a_grammar_shape_bounds_free_text_so_the_scores_fit_in_max_tokens() -> None:
    """Under json_object+schema (a grammar) a model that talks until max_tokens ends mid-string: the
    free-text fields get a maxLength from max_tokens; the strict json_schema shape (OpenAI refuses
    maxLength there) and a request with no max_tokens keep the schema as it is."""
    from lion_cli.core.reply_schemas import GENERATOR_REPLY, MIN_STRING_CHARS, REFEREE_REPLY

    grammar = REFEREE_REPLY.response_format("json_object+schema", max_tokens=128)["schema"]
    assert grammar["properties"]["reasoning"]["maxLength"] == (128 - 32) * 2
    assert grammar["properties"]["assistant_1"] == REFEREE_REPLY.schema["properties"]["assistant_1"]
    assert "maxLength" not in REFEREE_REPLY.schema["properties"]["reasoning"]   # the shared schema untouched
    tiny = GENERATOR_REPLY.response_format("json_object+schema", max_tokens=8)["schema"]
    assert tiny["properties"]["instruction"]["maxLength"] == MIN_STRING_CHARS
    strict = REFEREE_REPLY.response_format("json_schema", max_tokens=128)["json_schema"]["schema"]
    assert strict == REFEREE_REPLY.schema
    assert REFEREE_REPLY.response_format("json_object+schema")["schema"] == REFEREE_REPLY.schema


def test_a_raw_newline_inside_the_reasoning_is_read() -> None:
    """llama.cpp's grammar lets a raw newline into a JSON string (seen in CI: one verdict lost to
    "Invalid control character"); the scores are still exact JSON integers, so the verdict is read.
    A broken object stays a failure."""
    from lion_cli.core.referee import ParseFailure
    from lion_cli.core.reply_schemas import parse_structured_scores

    reply = '{ "reasoning" : "first line\nsecond line\tend","assistant_1" : 6, "assistant_2" : 3}'
    scores = parse_structured_scores(reply)
    assert not isinstance(scores, ParseFailure), scores
    assert isinstance(parse_structured_scores('{ "reasoning" : "cut\n'), ParseFailure)
