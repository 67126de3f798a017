"""The official `openai` SDK against `lion serve` (a real subprocess on 127.0.0.1), one test per
feature a client may ask for: streaming, n, stop, max_completion_tokens, response_format, refused
parameters, list-of-parts content and models.retrieve; scripted mode, and model mode with the tiny model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from lion_cli.server.app import build_server
from lion_cli.server.process import running_server
from lion_cli.server.runner import server_in_thread
from lion_cli.server.scripted import scripted_teacher_answer
from tests.llm_support import TEACHER_PROMPT

INSTRUCTION = "Describe a lighthouse at night."
TEACHER = [{"role": "user", "content": TEACHER_PROMPT.format(INSTRUCTION)}]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "score_1": {"type": "integer", "minimum": 1, "maximum": 10},
        "score_2": {"type": "integer", "minimum": 1, "maximum": 10},
        "confident": {"type": "boolean"},
        "verdict": {"type": "string", "enum": ["first", "second", "tie"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "detail": {"type": "object", "properties": {"weight": {"type": "number"}}, "required": ["weight"],
                   "additionalProperties": False},
    },
    "required": ["reasoning", "score_1", "score_2", "confident", "verdict", "tags", "detail"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def scripted() -> Iterator[openai.OpenAI]:
    with running_server("scripted") as url:
        yield openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> Iterator[openai.OpenAI]:
    with running_server("model", model=str(tiny_model_dir), model_name="tiny") as url:
        yield openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=120)


def _stream_parts(client: openai.OpenAI, **request: Any) -> tuple[list[Any], str, Any]:
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **request))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text, chunks[-1].usage


def _check_stream(client: openai.OpenAI, **request: Any) -> None:
    whole = client.chat.completions.create(**request)
    chunks, text, usage = _stream_parts(client, **request)
    assert all(c.object == "chat.completion.chunk" for c in chunks) and len(chunks) >= 4
    assert chunks[0].choices[0].delta.role == "assistant"
    assert text == whole.choices[0].message.content and text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and usage is not None
    assert usage.model_dump() == whole.usage.model_dump()
    assert all(c.usage is None for c in chunks[:-1])
    plain = list(client.chat.completions.create(stream=True, **request))
    assert all(c.usage is None for c in plain) and plain[-1].choices  # no usage chunk unless asked


# -- scripted mode ------------------------------------------------------------------------------------
def test_stream_scripted_chunks_add_up_to_the_answer_and_usage_comes_last(scripted: openai.OpenAI) -> None:
    _check_stream(scripted, model="m", messages=TEACHER, max_tokens=500)
    _, text, _ = _stream_parts(scripted, model="m", messages=TEACHER, max_tokens=500)
    assert text == scripted_teacher_answer(INSTRUCTION)


def test_n_scripted_gives_n_choices_each_its_own(scripted: openai.OpenAI) -> None:
    one = scripted.chat.completions.create(model="m", messages=TEACHER)
    two = scripted.chat.completions.create(model="m", messages=TEACHER, n=2)
    again = scripted.chat.completions.create(model="m", messages=TEACHER, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    texts = [c.message.content for c in two.choices]
    assert texts[0] == one.choices[0].message.content and texts[0] != texts[1] and all(texts)
    assert texts == [c.message.content for c in again.choices]  # deterministic per index
    assert two.usage is not None and one.usage is not None
    assert two.usage.completion_tokens == sum(len(t.split()) for t in texts if t)
    assert two.usage.prompt_tokens == one.usage.prompt_tokens
    streamed = list(scripted.chat.completions.create(model="m", messages=TEACHER, n=2, stream=True))
    for index, expected in enumerate(texts):
        assert "".join(c.choices[0].delta.content or "" for c in streamed
                       if c.choices and c.choices[0].index == index) == expected


def test_stop_scripted_cuts_before_the_first_stop_string(scripted: openai.OpenAI) -> None:
    full = scripted_teacher_answer(INSTRUCTION)
    words = full.split()
    cut_at = " " + words[5] + " "
    listed = scripted.chat.completions.create(model="m", messages=TEACHER, stop=["never-there", cut_at])
    single = scripted.chat.completions.create(model="m", messages=TEACHER, stop=cut_at)
    expected = full[: full.index(cut_at)]
    for reply in (listed, single):
        assert reply.choices[0].message.content == expected and reply.choices[0].finish_reason == "stop"
        assert reply.usage is not None and reply.usage.completion_tokens == len(expected.split())
    with pytest.raises(openai.BadRequestError) as too_many:
        scripted.chat.completions.create(model="m", messages=TEACHER, stop=["a", "b", "c", "d", "e"])
    assert too_many.value.param == "stop"


def test_max_completion_tokens_scripted_limits_the_answer(scripted: openai.OpenAI) -> None:
    reply = scripted.chat.completions.create(model="m", messages=TEACHER, max_completion_tokens=5)
    assert reply.choices[0].finish_reason == "length" and reply.usage is not None
    assert reply.choices[0].message.content == " ".join(scripted_teacher_answer(INSTRUCTION).split()[:5])
    assert reply.usage.completion_tokens == 5


def _check_against_schema(value: Any) -> None:
    """SCHEMA checked by hand (jsonschema is not a dependency)."""
    assert isinstance(value, dict) and set(value) == set(SCHEMA["required"])
    assert isinstance(value["reasoning"], str) and value["reasoning"]
    for key in ("score_1", "score_2"):
        assert isinstance(value[key], int) and not isinstance(value[key], bool) and 1 <= value[key] <= 10
    assert isinstance(value["confident"], bool) and value["verdict"] in ("first", "second", "tie")
    assert isinstance(value["tags"], list) and value["tags"] and all(isinstance(t, str) for t in value["tags"])
    assert set(value["detail"]) == {"weight"} and isinstance(value["detail"]["weight"], int | float)


def test_response_format_json_schema_scripted_gives_matching_json(scripted: openai.OpenAI) -> None:
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "judgement", "schema": SCHEMA, "strict": True}}
    first = scripted.chat.completions.create(model="m", messages=TEACHER, response_format=fmt)
    again = scripted.chat.completions.create(model="m", messages=TEACHER, response_format=fmt)
    content = first.choices[0].message.content or ""
    _check_against_schema(json.loads(content))
    assert content == again.choices[0].message.content  # deterministic
    plain = scripted.chat.completions.create(model="m", messages=TEACHER, response_format={"type": "json_object"})
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)


def test_response_format_scripted_referee_scores_travel_in_the_json(scripted: openai.OpenAI) -> None:
    answer = scripted_teacher_answer("Q?")
    prompt = (f"[Instruction]\nQ?\n[End of instruction]\n\n[Assistant 1]\n{answer}\n[End of Assistant 1]\n\n"
              f"[Assistant 2]\n{answer}\n[End of Assistant 2]")
    schema = {"type": "object", "required": ["reasoning", "assistant_1", "assistant_2"],
              "properties": {"reasoning": {"type": "string"}, "assistant_1": {"type": "integer"},
                             "assistant_2": {"type": "integer"}}}
    reply = scripted.chat.completions.create(
        model="m", messages=[{"role": "user", "content": prompt}], extra_headers={"X-Lion-Role": "referee"},
        response_format={"type": "json_schema", "json_schema": {"name": "scores", "schema": schema}})
    value = json.loads(reply.choices[0].message.content or "")
    assert value["assistant_1"] == value["assistant_2"] == 9 and value["reasoning"]  # the teacher's score


@pytest.mark.parametrize(("name", "request_extra"), [
    ("tools", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
    ("tool_choice", {"tool_choice": "auto"}),
    ("functions", {"functions": [{"name": "f", "parameters": {"type": "object"}}]}),
    ("logprobs", {"logprobs": True}),
    ("top_logprobs", {"top_logprobs": 3}),
    ("presence_penalty", {"presence_penalty": 0.5}),
    ("logit_bias", {"logit_bias": {"42": 5}}),
    ("repetition_penalty", {"extra_body": {"repetition_penalty": 1.1}}),
    ("stream_options", {"stream_options": {"include_usage": True}}),
])
def test_unsupported_parameters_raise_bad_request_naming_them(scripted: openai.OpenAI, name: str,
                                                              request_extra: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        scripted.chat.completions.create(model="m", messages=TEACHER, **request_extra)
    assert refused.value.param == name and f"'{name}'" in refused.value.message
    assert refused.value.type == "invalid_request_error"


def test_harmless_and_default_valued_parameters_are_accepted(scripted: openai.OpenAI) -> None:
    reply = scripted.chat.completions.create(
        model="m", messages=TEACHER, seed=3, user="someone", temperature=0.2, top_p=0.9, presence_penalty=0,
        frequency_penalty=0.0, logprobs=False, metadata={"run": "x"}, response_format={"type": "text"})
    assert reply.choices[0].message.content == scripted_teacher_answer(INSTRUCTION)


def test_list_of_parts_content_scripted_is_read_as_text(scripted: openai.OpenAI) -> None:
    prompt = TEACHER_PROMPT.format(INSTRUCTION)
    half = len(prompt) // 2
    parts: Any = [{"type": "text", "text": prompt[:half]}, {"type": "text", "text": prompt[half:]}]
    reply = scripted.chat.completions.create(model="m", messages=[{"role": "user", "content": parts}])
    assert reply.choices[0].message.content == scripted_teacher_answer(INSTRUCTION)
    image: Any = [{"type": "image_url", "image_url": {"url": "http://x/cat.png"}}]
    with pytest.raises(openai.BadRequestError) as refused:
        scripted.chat.completions.create(model="m", messages=[{"role": "user", "content": image}])
    assert refused.value.param == "messages" and "image_url" in refused.value.message


def test_models_retrieve_the_served_model_or_404(scripted: openai.OpenAI) -> None:
    assert scripted.models.retrieve("scripted").id == "scripted"
    assert [m.id for m in scripted.models.list()] == ["scripted"]
    with pytest.raises(openai.NotFoundError) as missing:
        scripted.models.retrieve("gpt-nothing")
    assert missing.value.code == "model_not_found" and "gpt-nothing" in missing.value.message


# -- model mode (the tiny random model) ----------------------------------------------------------------
def test_stream_model_chunks_add_up_to_the_answer_and_usage_comes_last(model: openai.OpenAI) -> None:
    _check_stream(model, model="tiny", messages=[{"role": "user", "content": "Say hi."}], temperature=0,
                  max_tokens=8)


def test_n_model_samples_each_choice(model: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Tell me about bread."}]
    reply = model.chat.completions.create(model="tiny", messages=messages, n=3, temperature=1.0, seed=5,
                                          max_tokens=10)
    texts = [c.message.content for c in reply.choices]
    assert [c.index for c in reply.choices] == [0, 1, 2] and len(set(texts)) == 3
    single = model.chat.completions.create(model="tiny", messages=messages, temperature=1.0, seed=5, max_tokens=10)
    assert texts[0] == single.choices[0].message.content


def test_stop_model_cuts_before_the_stop_string(model: openai.OpenAI) -> None:
    request: Any = {"model": "tiny", "messages": [{"role": "user", "content": "Explain the rain."}],
                    "temperature": 0, "max_tokens": 16}
    full = model.chat.completions.create(**request).choices[0].message.content or ""
    assert len(full) > 8
    stop = full[4:7]
    reply = model.chat.completions.create(**request, stop=[stop])
    assert reply.choices[0].message.content == full[: full.index(stop)]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens < 16


def test_max_completion_tokens_model_limits_the_answer(model: openai.OpenAI) -> None:
    reply = model.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Go on."}],
                                          max_completion_tokens=3, temperature=0)
    assert reply.usage is not None and reply.usage.completion_tokens <= 3
    if reply.choices[0].finish_reason == "length":
        assert reply.usage.completion_tokens == 3


def test_response_format_model_fails_loudly_when_no_try_validates(model: openai.OpenAI) -> None:
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "judgement", "schema": SCHEMA}}
    with pytest.raises(openai.UnprocessableEntityError) as failed:
        model.chat.completions.create(model="tiny", messages=TEACHER, response_format=fmt, max_tokens=8)
    assert failed.value.param == "response_format" and "3 tries" in failed.value.message


def test_list_of_parts_content_model_is_read_as_text(model: openai.OpenAI) -> None:
    parts: Any = [{"type": "text", "text": "Name a "}, {"type": "text", "text": "fruit."}]
    request: Any = {"model": "tiny", "temperature": 0, "max_tokens": 6}
    as_parts = model.chat.completions.create(messages=[{"role": "user", "content": parts}], **request)
    as_text = model.chat.completions.create(messages=[{"role": "user", "content": "Name a fruit."}], **request)
    assert as_parts.choices[0].message.content == as_text.choices[0].message.content


def test_logprobs_model_is_refused_by_name(model: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        model.chat.completions.create(model="tiny", messages=TEACHER, logprobs=True, top_logprobs=2)
    assert refused.value.param == "logprobs"


class _LearnsJson:
    """A backend without structured output of its own: prose first, then a valid object."""

    model_name = "learner"

    def __init__(self) -> None:
        self.calls = 0
        self.prompts: list[str] = []

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        self.calls += 1
        self.prompts.append(json.dumps(request["messages"]))
        if self.calls < 3:
            return "Sure! Here is the object you asked for.", "stop", 10, 8
        return '```json\n{"answer": "yes", "n": 2}\n```', "stop", 10, 9


def test_response_format_model_mode_retries_until_the_reply_validates() -> None:
    backend = _LearnsJson()
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "n": {"type": "integer"}},
              "required": ["answer", "n"]}
    with server_in_thread(build_server(backend)) as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        reply = client.chat.completions.create(
            model="learner", messages=[{"role": "user", "content": "Answer."}], temperature=0.7,
            response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})
    assert json.loads(reply.choices[0].message.content or "") == {"answer": "yes", "n": 2}
    assert backend.calls == 3 and reply.usage is not None and reply.usage.completion_tokens == 9
    assert all('\\"required\\": [\\"answer\\", \\"n\\"]' in p for p in backend.prompts)  # the schema is asked for


@pytest.mark.parametrize("schema", [
    SCHEMA,
    {"$defs": {"score": {"type": "integer", "minimum": 1, "maximum": 9}}, "type": "object",
     "properties": {"a": {"$ref": "#/$defs/score"}, "b": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/score"}]}},
     "required": ["a", "b"]},
    {"type": "array", "items": {"type": ["string", "null"], "maxLength": 5}, "minItems": 2},
    {"type": "object", "properties": {"kind": {"const": "x"}, "ratio": {"type": "number", "maximum": 0.5}}},
])
def test_schema_examples_fit_their_schema_and_the_checker_catches_misfits(schema: dict[str, Any]) -> None:
    import random

    from lion_cli.server.schema import example, problem

    value = example(schema, "a long justification", [12.0, 3.0], random.Random(0))
    assert problem(value, schema) is None, value
    assert problem(json.loads(json.dumps(value)), schema) is None
    assert problem("not that", schema) is not None
    if isinstance(value, dict) and schema.get("required"):
        assert "missing" in (problem({}, schema) or "")
