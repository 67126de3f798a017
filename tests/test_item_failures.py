"""Per-item permanent failures and `lion retry-failed`: a seed too long for the server's context gets
HTTP 400 context_length_exceeded from `lion serve --scripted --context-tokens N`; the step goes on without
it, marks it failed with its reason (shown by `lion status`), does not send it again, and sends it once
`lion retry-failed` clears the mark. The referee and the generator steps do the same per pair / slot.
The steps run in-process against a real server subprocess and a real SQLite store (no student is
trained: the student's answers are written as rows)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lion_cli.cli.common import Project, open_project
from lion_cli.cli.demo import demo_overrides
from lion_cli.cli.init import init_project
from lion_cli.cli.wiring import build_context
from lion_cli.core.types import Order, Pool, Role, Stage
from lion_cli.llm.errors import ApiError
from lion_cli.pipeline.concurrency import for_each
from lion_cli.pipeline.context import LoopContext
from lion_cli.server.process import running_server
from lion_cli.store.failures import active_failures
from lion_cli.store.loop_rows import save_response
from lion_cli.store.progress import ensure_iteration
from tests.loop_helpers import lion, server_stats

LONG = "Summarise the following notes for a newcomer in three bullet points. " + " ".join(["The notes go on."] * 180)
SHORT = ["Explain why the sky looks blue.", "Write a haiku about a late train.", "List three uses of vinegar.",
         "Describe a good first bicycle.", "Say why bread rises in the oven."]
CONTEXT = 400   # the server's context, in its estimate (about 4 characters a token): LONG is far over it


def make_failing_project(root: Path, url: str, student: Path) -> Path:
    seeds = root / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"instruction": t, "input": ""}) + "\n" for t in [*SHORT, LONG]))
    project = root / "proj"
    init_project(project, seeds, name="failures",
                 overrides=[*demo_overrides(url, "scripted", student, real_model=False), "loop.new_per_iteration=4"])
    return project


def point_at(project: Path, old_url: str, new_url: str) -> None:
    toml = project / "lion.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(old_url, new_url), encoding="utf-8")


def in_process(project: Path, step: Any) -> Any:
    """Run one pipeline step (`step(ctx)`, a coroutine) on the project, as `lion run` would wire it."""
    opened: Project = open_project(project)
    ctx = build_context(opened.dir, opened.settings, opened.store)
    ensure_iteration(ctx.store, 0)

    async def go() -> Any:
        try:
            return await step(ctx)
        finally:
            await ctx.engine.aclose()

    try:
        return asyncio.run(go())
    finally:
        opened.store.conn.close()


def teacher_step(ctx: LoopContext) -> Any:
    from lion_cli.pipeline.teacher import ensure_teacher_answers

    return ensure_teacher_answers(ctx, 0, Pool.TRAIN, Stage.IMITATION)


async def training_rows_step(ctx: LoopContext) -> list[dict[str, str]]:
    from lion_cli.pipeline.imitation import training_rows

    return training_rows(ctx, 0)


def long_id(project: Path) -> int:
    opened = open_project(project, readonly=True)
    try:
        return int(opened.store.scalar("SELECT id FROM instructions WHERE text = ?", (LONG,)))
    finally:
        opened.store.conn.close()


def teacher_answered(project: Path) -> set[int]:
    opened = open_project(project, readonly=True)
    try:
        return {r[0] for r in opened.store.query("SELECT instruction_id FROM responses WHERE role='teacher'")}
    finally:
        opened.store.conn.close()


def test_a_seed_too_long_fails_alone_and_is_answered_after_retry_failed(
        tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_server(backend="scripted", context_tokens=CONTEXT, latency=(0.05, 0.3)) as url:
        project = make_failing_project(tmp_path, url, tiny_model_dir)
        assert in_process(project, teacher_step) == 6
        # Every other answer, in flight when the 400 came back, is written; the long seed is marked.
        assert len(teacher_answered(project)) == 5 and long_id(project) not in teacher_answered(project)
        assert "teacher: 1 item(s) failed for good" in capsys.readouterr().err
        # The student is trained on the five answered seeds, and that is the count the stage reports.
        assert len(in_process(project, training_rows_step)) == 5
        opened = open_project(project, readonly=True)
        failed = active_failures(opened.store)
        opened.store.conn.close()
        assert [(f.role, f.instruction_id, f.status, f.stage) for f in failed] == [
            ("teacher", long_id(project), 400, "imitation")]
        assert "maximum context length is 400 tokens" in failed[0].reason
        # Marked failed, it is not sent again: the step has nothing to do and the server sees nothing.
        received = server_stats(url)["received"]
        assert in_process(project, teacher_step) == 0
        assert server_stats(url)["received"] == received
        old_url = url

    status = json.loads(lion("status", str(project), "--json").stdout)
    assert status["per_iteration"][0]["failed"] == 1
    assert status["per_iteration"][0]["stages"]["imitation"]["failed"] == 1
    assert [f["item_key"] for f in status["failed_items"]] == [f"instruction {long_id(project)}"]
    text = lion("status", str(project)).stdout
    assert "failed: it0 imitation teacher" in text and "lion retry-failed" in text

    other = lion("retry-failed", str(project), "--stage", "generation")
    assert other.returncode == 0 and "no failed items there" in other.stdout
    with running_server(backend="scripted") as url:   # the same server with a longer context
        point_at(project, old_url, url)
        cleared = lion("retry-failed", str(project))
        assert cleared.returncode == 0 and "cleared 1 failed item(s)" in cleared.stdout, cleared.stderr
        assert in_process(project, teacher_step) == 1
        assert server_stats(url)["received"] == 1
    assert long_id(project) in teacher_answered(project) and len(teacher_answered(project)) == 6
    assert json.loads(lion("status", str(project), "--json").stdout)["failed_items"] == []


def test_calls_in_flight_when_one_fails_run_to_their_end() -> None:
    started: list[int] = []
    finished: list[int] = []

    async def call(i: int) -> None:
        started.append(i)
        if i == 0:
            await asyncio.sleep(0.02)
            raise ApiError("HTTP 401: Incorrect API key", status=401)
        await asyncio.sleep(0.2)
        finished.append(i)

    with pytest.raises(ApiError, match="401"):
        asyncio.run(for_each(range(8), call, 3))
    assert sorted(finished) == [1, 2]      # on their way when the 401 came: answered and kept
    assert sorted(started) == [0, 1, 2]    # and nothing new was started after it


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The scripted server's estimate of a prompt's tokens (lion_cli/server/app.py)."""
    return max(1, math.ceil(sum(len(m["content"]) for m in messages) / 4))


def write_student_answers(ctx: LoopContext) -> None:
    for iid in [r[0] for r in ctx.store.query("SELECT id FROM instructions")]:
        save_response(ctx.store, iid, Role.STUDENT, ctx.keys.student_label(0), ctx.keys.student_hash, 0,
                      "A short answer from the student.", "stop")


@pytest.fixture
def answered_project(tmp_path: Path, tiny_model_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every seed answered by the teacher and the student, on a server without a context limit."""
    with running_server(backend="scripted", bad_reply_rate=0.0) as url:
        project = make_failing_project(tmp_path, url, tiny_model_dir)
        in_process(project, teacher_step)
        in_process(project, lambda ctx: asyncio.sleep(0, write_student_answers(ctx)))
    yield project, url


def test_a_referee_prompt_too_long_leaves_that_pair_failed_and_the_rest_scored(
        answered_project: tuple[Path, str]) -> None:
    from lion_cli.pipeline.discrimination import label_pool, referee_pairs

    project, old_url = answered_project
    long = long_id(project)

    async def judge_and_label(ctx: LoopContext) -> dict[str, Any]:
        await referee_pairs(ctx, 0)
        return label_pool(ctx, 0)

    def referee_sizes(ctx: LoopContext) -> dict[int, list[int]]:
        """Each instruction's referee prompts' sizes (either order, either reply format)."""
        rows = ctx.store.query("SELECT i.id, i.text, t.text, s.text FROM instructions i"
                               " JOIN responses t ON t.instruction_id = i.id AND t.role = 'teacher'"
                               " JOIN responses s ON s.instruction_id = i.id AND s.role = 'student'")
        return {r[0]: [prompt_tokens(ctx.prompts.referee(r[1], "", *pair, structured=structured))
                       for pair in ((r[2], r[3]), (r[3], r[2])) for structured in (False, True)] for r in rows}

    sizes = in_process(project, lambda ctx: asyncio.sleep(0, referee_sizes(ctx)))
    context = max(max(n) for i, n in sizes.items() if i != long)   # every short pair fits, the long one not
    assert context < min(sizes[long])
    with running_server(backend="scripted", bad_reply_rate=0.0, context_tokens=context) as url:
        point_at(project, old_url, url)
        summary = in_process(project, judge_and_label)
    opened = open_project(project, readonly=True)
    store = opened.store
    failed = active_failures(store)
    judged = {r[0] for r in store.query("SELECT DISTINCT instruction_id FROM judgements")}
    labels = {r[0]: r[1] for r in store.query("SELECT instruction_id, label FROM labels WHERE iteration=0")}
    opened.store.conn.close()
    assert sorted((f.role, f.instruction_id, f.item_key.split()[-1]) for f in failed) == sorted(
        ("referee", long, o.value) for o in Order)
    assert long not in judged and len(judged) == 5
    assert labels[long] == "unscored" and all(lab in ("hard", "easy") for i, lab in labels.items() if i != long)
    assert summary["failed_items"] == 1 and summary["unscored"] == 1


def test_a_generator_prompt_too_long_is_a_failed_slot_and_the_stage_goes_on(
        answered_project: tuple[Path, str]) -> None:
    from lion_cli.pipeline.discrimination import label_pool, referee_pairs
    from lion_cli.pipeline.generation import run_generation

    project, url = answered_project

    async def judge(ctx: LoopContext) -> None:
        await referee_pairs(ctx, 0)
        label_pool(ctx, 0)

    def generator_sizes(ctx: LoopContext) -> dict[int, int]:
        from lion_cli.core.types import Label

        rows = ctx.store.query("SELECT l.instruction_id, l.label, i.text FROM labels l"
                               " JOIN instructions i ON i.id = l.instruction_id WHERE l.label != 'unscored'")
        return {r[0]: prompt_tokens(ctx.prompts.generator(Label(r[1]), r[2], "")) for r in rows}

    with running_server(backend="scripted", bad_reply_rate=0.0) as same:
        point_at(project, url, same)
        in_process(project, judge)
        sizes = in_process(project, lambda ctx: asyncio.sleep(0, generator_sizes(ctx)))
        url = same
    # A context that lets every seed's generator prompt through but the longest one's.
    longest = max(sizes, key=lambda i: sizes[i])
    assert sorted(sizes.values())[-2] < sizes[longest]
    with running_server(backend="scripted", bad_reply_rate=0.0, context_tokens=sizes[longest] - 1) as limited:
        point_at(project, url, limited)
        detail = in_process(project, lambda ctx: run_generation(ctx, 0))
    opened = open_project(project, readonly=True)
    store = opened.store
    failed_slots = {int(f.item_key.split()[-1]) for f in active_failures(store) if f.role == "generator"}
    rows = store.query("SELECT slot, seed_instruction_id, reject_reason FROM candidates WHERE iteration=0")
    opened.store.conn.close()
    assert failed_slots, "the longest seed was drawn, and its slots failed"
    assert {r[0] for r in rows if r[2] == "request_failed"} == failed_slots
    assert {r[1] for r in rows if r[0] in failed_slots} == {longest}
    assert detail["failed_items"] == len(failed_slots) and detail["rejected"]["request_failed"] == len(failed_slots)
    assert all(r[2] != "request_failed" for r in rows if r[1] != longest)


def test_an_online_sample_too_long_for_the_referee_is_failed_and_the_round_goes_on(
        answered_project: tuple[Path, str]) -> None:
    """Online DPO's scoring (pipeline/online_preference.py): the long instruction's samples, over the
    referee's context, are marked failed; every other sample is scored; a second pass sends nothing."""
    from lion_cli.pipeline.online_preference import score_samples
    from lion_cli.store.online_samples import OnlineSample, round_verdicts, save_samples

    project, old_url = answered_project
    long = long_id(project)

    def add_samples(ctx: LoopContext) -> dict[int, list[int]]:
        """Two samples per answered instruction; each instruction's referee prompts' sizes."""
        rows = ctx.store.query("SELECT i.id, i.text, t.text FROM instructions i"
                               " JOIN responses t ON t.instruction_id = i.id AND t.role = 'teacher'")
        save_samples(ctx.store, 0, 1, "students/iter-0/final",
                     [OnlineSample(r[0], s, s, f"Sample {s}: a short answer.") for r in rows for s in (0, 1)])
        return {r[0]: [prompt_tokens(ctx.prompts.referee(r[1], "", *pair, structured=structured))
                       for pair in ((r[2], "Sample 0: a short answer."), ("Sample 0: a short answer.", r[2]))
                       for structured in (False, True)] for r in rows}

    sizes = in_process(project, lambda ctx: asyncio.sleep(0, add_samples(ctx)))
    context = max(max(n) + 2 for i, n in sizes.items() if i != long)
    assert context < min(sizes[long]) and len(sizes) == 6
    with running_server(backend="scripted", bad_reply_rate=0.0, context_tokens=context) as url:
        point_at(project, old_url, url)
        assert in_process(project, lambda ctx: score_samples(ctx, 0, 1)) == 6 * 2 * 2
        received = server_stats(url)["received"]
        assert in_process(project, lambda ctx: score_samples(ctx, 0, 1)) == 0  # failed ones are not sent again
        assert server_stats(url)["received"] == received
    opened = open_project(project, readonly=True)
    failed, verdicts = active_failures(opened.store), round_verdicts(opened.store, 0, 1)
    opened.store.conn.close()
    assert sorted((f.role, f.stage, f.instruction_id, f.status) for f in failed) == [
        ("referee", "imitation", long, 400)] * 4  # 2 samples × 2 orders
    assert {f.item_key for f in failed} == {f"iteration 0 online round 1 instruction {long} sample {s} {o.value}"
                                            for s in (0, 1) for o in Order}
    assert len(verdicts) == 5 * 2 * 2 and long not in {v.instruction_id for v in verdicts}
    assert all(v.sample_score is not None for v in verdicts)
