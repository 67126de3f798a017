"""Teacher answers that are not answers: an empty reply, or an error text in place of one, is asked
again with a fresh sample (another sample index, so another request-cache key) and never stored or
trained on; after core.teacher_answers.TEACHER_ATTEMPTS of them the instruction is marked failed.
The step runs in-process against the scripted server, with an engine wrapper that blanks chosen
replies (the server itself always answers)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from lion_cli.cli.common import open_project
from lion_cli.core.teacher_answers import TEACHER_ATTEMPTS, unusable_answer
from lion_cli.pipeline.context import LoopContext
from lion_cli.server.process import running_server
from lion_cli.store.failures import active_failures
from tests.test_item_failures import SHORT, in_process, make_failing_project, teacher_step


@pytest.mark.parametrize("text", ["", "   \n", '{"error": {"message": "upstream timed out"}}',
                                  "Error: 502 upstream connect error", "Internal Server Error",
                                  "503 Service Unavailable"])
def test_empty_and_error_replies_are_not_answers(text: str) -> None:
    assert unusable_answer(text) is not None


@pytest.mark.parametrize("text", ["Error bars show how uncertain a measurement is.",
                                  "Errors in the data: none found.", "The server returned 500 rows."])
def test_answers_about_errors_are_answers(text: str) -> None:
    assert unusable_answer(text) is None


class BlankingEngine:
    """The real engine, with the text of chosen replies replaced: `replies[(instruction, attempt)]`."""

    def __init__(self, real: Any, replies: dict[tuple[str, int], str]) -> None:
        self.real, self.replies, self.keys = real, replies, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def chat(self, role: str, messages: list[dict[str, str]], **kw: Any) -> Any:
        res = await self.real.chat(role, messages, **kw)
        attempt = kw.get("sample_index", 0)
        for (instruction, n), text in self.replies.items():
            if n == attempt and instruction in messages[-1]["content"]:
                self.keys.append((instruction, attempt, res.cache_key))
                return dataclasses.replace(res, text=text)
        return res


def stored_teacher_answers(project: Path) -> dict[str, str]:
    opened = open_project(project, readonly=True)
    try:
        return {r[0]: r[1] for r in opened.store.query(
            "SELECT i.text, r.text FROM responses r JOIN instructions i ON i.id=r.instruction_id"
            " WHERE r.role='teacher'")}
    finally:
        opened.store.conn.close()


def test_an_empty_answer_is_asked_again_and_an_error_every_time_fails_the_item(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    sky, haiku = SHORT[0], SHORT[1]
    replies = {(sky, 0): "", **{(haiku, n): "Error: 502 Bad Gateway" for n in range(TEACHER_ATTEMPTS)}}
    engines: list[BlankingEngine] = []

    def step(ctx: LoopContext) -> Any:
        engines.append(BlankingEngine(ctx.engine, replies))
        ctx.engine = engines[-1]  # type: ignore[assignment]
        return teacher_step(ctx)

    with running_server(backend="scripted") as url:
        project = make_failing_project(tmp_path, url, tiny_model_dir)
        in_process(project, step)
    stored = stored_teacher_answers(project)
    assert stored[sky].strip() and haiku not in stored        # the empty one was replaced by attempt 1
    assert all(unusable_answer(text) is None for text in stored.values())
    keys = [key for ins, _n, key in engines[0].keys if ins == haiku]
    assert len(keys) == TEACHER_ATTEMPTS and len(set(keys)) == TEACHER_ATTEMPTS   # a fresh request each time
    opened = open_project(project, readonly=True)
    failed = active_failures(opened.store)
    opened.store.conn.close()
    assert [f.reason for f in failed] == [f"the teacher's reply was an error message in {TEACHER_ATTEMPTS} attempts"]
