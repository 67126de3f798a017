"""loop.protocol: "paper" (the default) runs the official Lion code's rules in lion's own words,
"lion" lion's own set (core/loop_protocol.py, prompts/paper/ beside prompts/, prompts/README.md)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lion_cli.cli.wiring import answer_keys
from lion_cli.config import ConfigError, Settings, parse_settings, student_top_k
from lion_cli.core.api import ChatResult
from lion_cli.core.candidates import reject_reason
from lion_cli.core.loop_protocol import loop_protocol
from lion_cli.core.prompts import GENERATOR_MARKERS
from lion_cli.core.referee import Scores, parse_scores
from lion_cli.core.reply_schemas import REFEREE_REPLY
from lion_cli.core.types import Instruction, Label, Origin
from lion_cli.pipeline.generation import GenerationRun, PoolNovelty, Tally
from lion_cli.prompts_loader import load_role_prompts, protocol_prompts_dir
from lion_cli.server.guided_scores import wants_score_lines

SEED = "Explain why the sky looks blue."   # 6 words


def test_the_default_is_the_paper_and_a_bad_protocol_names_its_key() -> None:
    assert Settings().loop.protocol == "paper"
    assert parse_settings({"loop": {"protocol": "lion"}}).loop.protocol == "lion"
    with pytest.raises(ConfigError) as err:
        parse_settings({"loop": {"protocol": "papers"}})
    assert [p.key for p in err.value.problems] == ["loop.protocol"]


def test_the_paper_s_prompts_follow_its_rules() -> None:
    paper, lion = load_role_prompts(protocol="paper"), load_role_prompts(protocol="lion")
    assert [m["role"] for m in paper.teacher("Say hi.", "")] == ["system", "user"]
    assert [m["role"] for m in lion.teacher("Say hi.", "")] == ["user"]
    assert paper.teacher("Say hi.", "")[1] == lion.teacher("Say hi.", "")[0]   # the same Alpaca layout
    referee = paper.referee("Name a colour.", "", "Blue.", "Seven.")[-1]["content"]
    for criterion in ("helpfulness", "relevance", "accuracy", "level of detail"):
        assert criterion in referee
    assert referee.rstrip().endswith("Assistant 1: <score>\nAssistant 2: <score>")
    assert wants_score_lines(paper.referee("Name a colour.", "", "Blue.", "Seven."))   # the demo's guided scores
    assert parse_scores("Both are on topic; the first is right.\nAssistant 1: 8.5\nAssistant 2: 3") == Scores(8.5, 3)
    structured = paper.referee("Name a colour.", "", "Blue.", "Seven.", structured=True)[-1]["content"]
    assert "helpfulness" in structured and "<score>" not in structured
    assert all(f'"{field}"' in structured for field in REFEREE_REPLY.schema["properties"])
    hard = paper.generator("hard", SEED, "")[-1]["content"]
    easy = paper.generator("easy", SEED, "")[-1]["content"]
    assert "same domain" in hard and "same type of task" in hard and "similar length and difficulty" in hard
    assert "same domain" in easy and "rarer" in easy and "similar length and difficulty" in easy
    for text in (hard, easy):   # the echo filter still knows the paper's prompts
        assert sum(m.lower() in text.lower() for m in GENERATOR_MARKERS) >= 3


def test_the_paper_s_generator_and_student_rules() -> None:
    paper, lion = loop_protocol("paper"), loop_protocol("lion")
    assert paper.generator_max_tokens(SEED, 512, structured=False) == 24
    assert paper.generator_max_tokens(SEED, 512, structured=True) > 24
    assert lion.generator_max_tokens(SEED, 512, structured=False) == 512
    assert reject_reason("Write instructions for planting a tree.", "stop", (), paper.rejected_words) == "rejected_word"
    assert reject_reason("Write instructions for planting a tree.", "stop", (), lion.rejected_words) is None
    assert reject_reason("Write a haiku about a quiet harbour.", "stop", (), paper.rejected_words) is None
    assert student_top_k(Settings()) == 50
    assert student_top_k(parse_settings({"loop": {"protocol": "lion"}})) == 0
    assert student_top_k(parse_settings({"student": {"generation": {"top_k": 7}}})) == 7


def test_the_protocol_s_prompts_are_loaded_and_key_the_teacher_s_answers() -> None:
    assert protocol_prompts_dir("paper").name == "paper" and (protocol_prompts_dir("lion") / "teacher.txt").is_file()
    settings = Settings()
    paper = answer_keys(settings, load_role_prompts(protocol="paper"))
    lion = answer_keys(settings, load_role_prompts(protocol="lion"))
    assert paper.teacher_hash != lion.teacher_hash     # another prompt: other answers


class RecordingEngine:
    def __init__(self, reply: str, finish: str = "stop") -> None:
        self.reply, self.finish, self.calls = reply, finish, []

    async def chat(self, role: str, messages: Any, **kw: Any) -> ChatResult:
        self.calls.append(kw)
        return ChatResult(self.reply, self.finish, 10, 5, 0.0, False, "", "")


def generation_run(protocol: str, engine: RecordingEngine) -> GenerationRun:
    from lion_cli.core.novelty import NoveltyIndex

    settings = parse_settings({"loop": {"protocol": protocol}})
    ctx = SimpleNamespace(settings=settings, prompts=load_role_prompts(protocol=protocol), engine=engine)
    seed = Instruction(1, SEED, "", Origin.SEED, 0)
    return GenerationRun(ctx, 0, [(Label.HARD, 1)], {1: seed}, Tally({Label.HARD: 1, Label.EASY: 0}),  # type: ignore[arg-type]
                         PoolNovelty(NoveltyIndex([]), []))


@pytest.mark.parametrize(("protocol", "max_tokens"), [("paper", 24), ("lion", 512)])
async def test_a_generator_call_is_capped_by_the_protocol(protocol: str, max_tokens: int) -> None:
    engine = RecordingEngine("Describe how rainbows form after a storm.")
    reply = await generation_run(protocol, engine).ask(0)
    assert reply is not None and engine.calls[0]["max_tokens"] == max_tokens


def test_paper_protocol_files_mirror_lion_s() -> None:
    lion_dir = protocol_prompts_dir("lion")
    role_files = {p.name for p in protocol_prompts_dir("paper").glob("*.txt")}
    assert role_files == {"teacher.txt", "referee.txt", "referee_structured.txt", "generator_hard.txt",
                          "generator_easy.txt"} and role_files <= {p.name for p in lion_dir.glob("*.txt")}
    readme = Path(lion_dir / "README.md").read_text(encoding="utf-8")   # the two set side by side
    assert all(rule in readme for rule in ("4 × the seed's words", "\"instruction\"", "`top_k` 50", "helpfulness"))
