"""Structured replies: the referee, the Vicuna judge and the generator ask for a JSON object under a
schema when the endpoint takes one (structured = "on", or "auto" and its probe said so, remembered in
the store), read it strictly, and fall back to the free-text format otherwise."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.api import ChatResult
from lion_cli.core.judging import ask_referee
from lion_cli.core.referee import ParseFailure, Scores
from lion_cli.core.reply_schemas import (
    GENERATOR_REPLY,
    REFEREE_REPLY,
    parse_structured_instruction,
    parse_structured_scores,
)
from lion_cli.core.types import Order, Pool, Role
from lion_cli.llm.engine import LLMEngine
from lion_cli.llm.protocols import MemoryCache
from lion_cli.prompts_loader import load_role_prompts
from lion_cli.server.scripted import ScriptedBackend
from tests.llm_support import loopback, spec, stats


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"reasoning": "1 is right.", "assistant_1": 8, "assistant_2": 3}', Scores(8.0, 3.0)),
    (' \n{"assistant_2": 10, "assistant_1": 1, "reasoning": ""}\n', Scores(1.0, 10.0)),
    ('{"reasoning": "x", "assistant_1": 8.0, "assistant_2": 3}', "not a JSON integer"),
    ('{"reasoning": "x", "assistant_1": "8", "assistant_2": 3}', "not a JSON integer"),
    ('{"reasoning": "x", "assistant_1": true, "assistant_2": 3}', "not a JSON integer"),
    ('{"reasoning": "x", "assistant_1": 0, "assistant_2": 3}', "off the 1-10 scale"),
    ('{"reasoning": "x", "assistant_1": 8, "assistant_2": 11}', "off the 1-10 scale"),
    ('{"reasoning": "x", "assistant_1": 8}', "missing assistant_2"),
    ('{"reasoning": "x", "assistant_1": 8, "assistant_2": 3, "winner": 2}', "unexpected winner"),
    ('{"reasoning": "x", "assistant_1": 8, "assistant_1": 7, "assistant_2": 3}', "more than once"),
    ('{"reasoning": 5, "assistant_1": 8, "assistant_2": 3}', "reasoning is not a string"),
    ('```json\n{"reasoning": "x", "assistant_1": 8, "assistant_2": 3}\n```', "not one JSON value"),
    ('{"reasoning": "x", "assistant_1": 8, "assistant_2": 3} {"assistant_1": 2}', "not one JSON value"),
    ("[8, 3]", "not an object"),
    ("Assistant 1: 8\nAssistant 2: 3", "not one JSON value"),
    ("", "empty reply"),
])
def test_structured_scores_are_read_without_guessing(reply: str, expected: Scores | str) -> None:
    got = parse_structured_scores(reply)
    if isinstance(expected, Scores):
        assert got == expected
    else:
        assert isinstance(got, ParseFailure) and expected in got.reason, got


def test_structured_instruction_is_one_string_field() -> None:
    got = parse_structured_instruction('{"instruction": "Write a poem.\\nInput: rain"}')
    assert got == "Write a poem.\nInput: rain"
    for bad in ('{"instruction": 3}', '{"text": "Write."}', '{"instruction": "a", "input": "b"}', "Write a poem."):
        assert isinstance(parse_structured_instruction(bad), ParseFailure), bad


def test_schemas_put_the_reasoning_first_and_are_strict() -> None:
    fmt = REFEREE_REPLY.response_format()
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert list(schema["properties"]) == ["reasoning", "assistant_1", "assistant_2"]
    assert schema["required"] == ["reasoning", "assistant_1", "assistant_2"] and schema["additionalProperties"] is False
    # An enum, not minimum/maximum: a grammar built from the schema (llama.cpp's) ignores bounds.
    assert schema["properties"]["assistant_1"] == {"type": "integer", "enum": list(range(1, 11))}
    assert list(GENERATOR_REPLY.schema["properties"]) == ["instruction"]
    # llama-cpp-python's server takes the same schema beside json_object.
    assert REFEREE_REPLY.response_format("json_object+schema") == {"type": "json_object", "schema": schema}


def test_structured_referee_prompt_asks_for_the_fields_and_keeps_the_blocks() -> None:
    prompts = load_role_prompts()
    text = prompts.referee("Name a colour.", "", "Blue.", "Seven.")[-1]["content"]
    structured = prompts.referee("Name a colour.", "", "Blue.", "Seven.", structured=True)[-1]["content"]
    assert "Assistant 1: <score>" in text and "<score>" not in structured
    for field in ("reasoning", "assistant_1", "assistant_2"):
        assert f'"{field}"' in structured
    assert structured.index('"reasoning"') < structured.index('"assistant_1"')
    for block in ("[Instruction]\nName a colour.\n[End of instruction]", "[Assistant 1]\nBlue.\n[End of Assistant 1]"):
        assert block in structured


class _Fixed:
    """A referee engine that answers every request with one reply and remembers the formats asked."""

    def __init__(self, reply: str) -> None:
        self.reply, self.formats = reply, []  # type: list[dict[str, Any] | None]

    async def chat(self, role: str, messages: list[dict[str, Any]], *, sample_index: int = 0,
                   response_format: dict[str, Any] | None = None) -> ChatResult:
        self.formats.append(response_format)
        return ChatResult(self.reply, "stop", 0, 0, 0.0, False, "", "judge")

    async def response_format(self, role: str, reply: Any) -> dict[str, Any] | None:
        return None


def test_ask_referee_reads_the_reply_the_way_it_was_asked() -> None:
    as_json = '{"reasoning": "fine", "assistant_1": 7, "assistant_2": 4}'
    fmt = REFEREE_REPLY.response_format()
    structured = asyncio.run(ask_referee(_Fixed(as_json), [], attempts=1, response_format=fmt))
    assert structured is not None and structured.scores == (7.0, 4.0)
    # The same JSON as free text is read by the text parser, and "Assistant 1: 7" lines under a schema
    # are refused: a reply is never read the other way.
    text_lines = asyncio.run(ask_referee(_Fixed("Fine.\nAssistant 1: 7\nAssistant 2: 4"), [], attempts=2,
                                         response_format=fmt))
    assert text_lines is not None and text_lines.scores is None and text_lines.attempt == 1
    engine = _Fixed("x")
    asyncio.run(ask_referee(engine, [], attempts=2, response_format=fmt))
    assert engine.formats == [fmt, fmt]


async def test_a_reply_under_a_schema_is_another_answer_than_free_text() -> None:
    with loopback() as url:
        async with LLMEngine({"referee": spec(url)}, cache=MemoryCache()) as eng:
            messages = load_role_prompts().referee("Q?", "", "A.", "B.")
            text = await eng.chat("referee", messages)
            structured = await eng.chat("referee", messages, response_format=REFEREE_REPLY.response_format())
            again = await eng.chat("referee", messages, response_format=REFEREE_REPLY.response_format())
        assert stats(url)["received"] == 2
    assert text.cache_key != structured.cache_key and again.cached and again.text == structured.text
    assert json.loads(structured.text)["assistant_1"] in range(1, 11) and "Assistant 1:" in text.text


# -- the referee stage against `lion serve --scripted` ------------------------------------------------

def _referee_stage(root: Path, url: str, structured: str) -> tuple[list[Any], int]:
    """A project whose Cache Pool (6 seeds) has teacher and student answers; its referee stage run once
    (no retries). Returns the judgements and the requests the stage itself sent."""
    from lion_cli.cli.demo import scripted_project
    from lion_cli.cli.wiring import build_context
    from lion_cli.config import load_settings
    from lion_cli.pipeline.discrimination import referee_pairs
    from lion_cli.store.db import open_store
    from lion_cli.store.loop_rows import save_response, verdicts
    from lion_cli.store.pools import pool_ids

    project = root / "proj"
    if not project.exists():
        scripted_project(root, url, root / "student", iterations=1, new=4, seeds=6,
                         extra=[f"referee.structured={json.dumps(structured)}", "loop.referee_retries=0"])
    before = stats(url)["received"]
    with open_store(project / "lion.db") as store:
        ctx = build_context(project, load_settings(project), store)
        for iid in pool_ids(store, 0, Pool.CACHE):
            save_response(store, iid, Role.TEACHER, ctx.keys.teacher_model, ctx.keys.teacher_hash, 0,
                          f"teacher answer {iid}", "stop", 5, 5)
            save_response(store, iid, Role.STUDENT, ctx.keys.student_label(0), ctx.keys.student_hash, 0,
                          f"student answer {iid}", "stop", 5, 5)

        async def judge() -> None:
            async with ctx.engine:
                await referee_pairs(ctx, 0)

        asyncio.run(judge())
        return verdicts(store, 0), stats(url)["received"] - before


def _capabilities(project: Path) -> list[tuple[Any, ...]]:
    from lion_cli.store.db import open_store

    with open_store(project / "lion.db") as store:
        return [tuple(r) for r in store.query("SELECT model, structured, reply_shape FROM endpoint_capabilities")]


def _replies(project: Path) -> list[str]:
    from lion_cli.store.db import open_store

    with open_store(project / "lion.db") as store:
        return [r[0] for r in store.query("SELECT raw_text FROM judgements")]


def test_on_mode_parses_every_reply_of_a_referee_that_never_writes_score_lines(tmp_path: Path) -> None:
    # bad_reply_rate=1: in free text not one reply of this referee carries scores.
    with loopback(ScriptedBackend(bad_reply_rate=1.0)) as url:
        judged, sent = _referee_stage(tmp_path, url, "on")
    # 6 items × 2 orders, and in "on" too one probe: which shape of response_format the schema goes in.
    assert len(judged) == 12 and sent == 12 + 1
    assert all(v.parse_error is None and v.teacher_score is not None for v in judged)
    assert {v.order for v in judged} == set(Order)
    assert all(json.loads(text)["reasoning"] for text in _replies(tmp_path / "proj"))
    assert _capabilities(tmp_path / "proj") == [("scripted", 1, "json_schema")]


def test_off_mode_keeps_the_text_format(tmp_path: Path) -> None:
    with loopback(ScriptedBackend(bad_reply_rate=1.0)) as url:
        judged, sent = _referee_stage(tmp_path, url, "off")
    assert len(judged) == 12 and sent == 12
    assert all(v.parse_error is not None for v in judged)        # the text parser found no scores


def test_auto_probes_once_and_remembers_it_in_the_store(tmp_path: Path) -> None:
    from lion_cli.store.db import open_store

    with loopback(ScriptedBackend(bad_reply_rate=1.0)) as url:
        judged, sent = _referee_stage(tmp_path, url, "auto")
        assert sent == 12 + 1                                    # the stage's requests and one probe
        assert all(v.parse_error is None for v in judged)
        assert _capabilities(tmp_path / "proj") == [("scripted", 1, "json_schema")]
        # A second run (a new engine over the same store): the replies come from the cache and the
        # capability from the store: not one request, the probe included, reaches the server.
        with open_store(tmp_path / "proj" / "lion.db") as store:
            store.conn.execute("DELETE FROM judgements")
        judged, sent = _referee_stage(tmp_path, url, "auto")
    assert sent == 0 and len(judged) == 12 and all(v.parse_error is None for v in judged)


def test_auto_falls_back_to_text_when_the_server_refuses_response_format(tmp_path: Path) -> None:
    with loopback(ScriptedBackend(bad_reply_rate=0.0), structured=False) as url:
        judged, sent = _referee_stage(tmp_path, url, "auto")
        assert sent == 12 + 2 and stats(url)["bad_requests"] == 2  # a 400 for each shape of response_format
        assert all(v.parse_error is None for v in judged)
        assert all("Assistant 2:" in text and "{" not in text for text in _replies(tmp_path / "proj"))
        assert _capabilities(tmp_path / "proj") == [("scripted", 0, "text")]
        with_no_probe = _referee_stage(tmp_path, url, "auto")[1]
    assert with_no_probe == 0


# -- the Vicuna judge and the generator -----------------------------------------------------------------

def _vicuna(url: str, structured: str) -> Any:
    from lion_cli.eval.vicuna import JUDGE_TEMPLATES, JudgePlan, Question, evaluate_vicuna
    from lion_cli.prompts_loader import load_template

    questions = [Question(1, "How do I sleep better?", "generic"), Question(2, "What is 2+2?", "math")]
    templates = {name: load_template(name) for name in JUDGE_TEMPLATES}

    async def go() -> Any:
        async with LLMEngine({"judge": spec(url, structured=structured, model="judge")}) as engine:
            return await evaluate_vicuna(engine, templates, questions, {1: "s1", 2: "s2"}, {1: "r1", 2: "r2"},
                                         JudgePlan(retries=1))
    return asyncio.run(go())


def test_the_vicuna_judge_asks_for_structured_verdicts() -> None:
    with loopback(ScriptedBackend(bad_reply_rate=1.0)) as url:
        on, off = _vicuna(url, "on"), _vicuna(url, "off")
    assert all(v.scores is not None for vs in on.verdicts.values() for v in vs)
    # Setting 1's verdict gives its scores, then an explanation; setting 2's writes its evidence first.
    assert list(json.loads(on.verdicts[1, 1][0].raw)) == ["assistant_1", "assistant_2", "explanation"]
    assert list(json.loads(on.verdicts[2, 1][0].raw)) == ["evidence", "assistant_1", "assistant_2"]
    assert all(v.scores is None for vs in off.verdicts.values() for v in vs)


def test_the_generator_reads_a_structured_instruction_strictly() -> None:
    from lion_cli.pipeline.generation import GenerationRun

    run = GenerationRun(None, 0, [], {}, None, None, reply_format=GENERATOR_REPLY.response_format())  # type: ignore[arg-type]

    def reply(text: str, finish: str = "stop") -> ChatResult:
        return ChatResult(text, finish, 0, 0, 0.0, False, "", "gen")

    assert run.read(reply('{"instruction": "List three rivers.\\nInput: Europe"}')) == (
        "List three rivers.", "Europe", None)
    assert run.read(reply("List three rivers.")) == ("", "", "unreadable")
    assert run.read(reply('{"instruction": "List thr', "length")) == ("", "", "cut_off")
    run.reply_format = None
    assert run.read(reply("List three rivers.")) == ("List three rivers.", "", None)
