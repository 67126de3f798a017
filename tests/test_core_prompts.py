"""The one template mechanism (parse_template/render) and the four shipped role prompts: they parse,
render to the layouts other parts rely on, and stay in step with the referee parser and the
generator markers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lion_cli.core.prompts import GENERATOR_MARKERS, TemplateError, parse_template, render
from lion_cli.core.referee import Scores, parse_scores
from lion_cli.prompts_loader import ROLE_TEMPLATES, load_role_templates, load_template

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"


def test_roles_sections_and_placeholders() -> None:
    t = parse_template("=== system ===\nBe {{tone}}.\n\n=== user ===\n\n{{q}}{{#ctx}}\n\nContext: {{ctx}}{{/ctx}}\n\n",
                       name="t.txt")
    assert t.placeholders == {"tone", "q", "ctx"}
    assert render(t, tone="brief", q="Why?", ctx="") == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]
    assert render(t, tone="brief", q="Why?", ctx="  \n")[1]["content"] == "Why?"  # whitespace-only counts as empty
    assert render(t, tone="brief", q="Why?", ctx="sky")[1]["content"] == "Why?\n\nContext: sky"


def test_no_header_is_one_user_message_and_values_are_literal() -> None:
    t = parse_template("Say {{x}}.\n")
    assert render(t, x="{{x}} and {{#y}}") == [{"role": "user", "content": "Say {{x}} and {{#y}}."}]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "t.txt:1: empty template"),
    ("=== system ===\n\n=== user ===\nhi", "t.txt:1: empty 'system' message"),
    ("=== robot ===\nhi", "t.txt:1: unknown role 'robot'"),
    ("hello\n=== user ===\nhi", "t.txt:1: text before the first"),
    ("=== user ===\nline\n{{ bad name }}", "t.txt:3: malformed placeholder"),
    ("=== user ===\n{{x}\n", "t.txt:2: malformed placeholder"),
    ("=== user ===\na\n{{#x}}never closed", "t.txt:3: section '{{#x}}' is never closed"),
    ("=== user ===\n{{/x}}", "t.txt:2: '{{/x}}' closes no open section"),
    ("=== user ===\n{{#a}}{{#b}}{{/b}}{{/a}}", "sections do not nest"),
    ("=== user ===\n{{#a}}x{{/b}}", "(open: 'a')"),
])
def test_parse_errors_name_file_and_line(text: str, problem: str) -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(text, name="t.txt")
    assert problem in str(err.value)


def test_render_errors() -> None:
    t = parse_template("{{a}} {{b}}", name="t.txt")
    with pytest.raises(TemplateError, match=r"t.txt: missing value for placeholder \{\{b\}\}"):
        render(t, a="1")
    with pytest.raises(TemplateError, match="unknown value"):
        render(t, a="1", b="2", c="3")
    with pytest.raises(TemplateError, match="must be a string"):
        render(t, a="1", b=2)  # type: ignore[arg-type]


def test_shipped_templates_parse_with_their_placeholders() -> None:
    templates = load_role_templates()
    assert set(templates) == set(ROLE_TEMPLATES)
    assert templates["teacher"].placeholders == {"instruction", "input"}
    assert templates["referee"].placeholders == {"instruction", "answer_1", "answer_2"}
    assert templates["generator_hard"].placeholders == {"seed"}
    assert templates["generator_easy"].placeholders == {"seed"}
    assert "generator_hard.txt" in templates["generator_hard"].name


def test_teacher_layout() -> None:
    t = load_template("teacher")
    assert render(t, instruction="Add the numbers.", input="2, 3") == [
        {"role": "user", "content": "### Instruction:\nAdd the numbers.\n\n### Input:\n2, 3\n\n### Response:"}]
    assert render(t, instruction="Name a colour.", input="") == [
        {"role": "user", "content": "### Instruction:\nName a colour.\n\n### Response:"}]


def test_referee_prompt_asks_for_what_the_parser_reads() -> None:
    msgs = render(load_template("referee"), instruction="Name a colour.", answer_1="Blue.", answer_2="Seven.")
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    for block in ("[Instruction]\nName a colour.\n[End of instruction]", "[Assistant 1]\nBlue.\n[End of Assistant 1]",
                  "[Assistant 2]\nSeven.\n[End of Assistant 2]"):
        assert block in user
    assert "order of presentation must not sway" in user
    assert "justification" in user and "1 (useless) to 10 (excellent)" in user
    # the two closing lines it asks for, filled in, parse to those scores
    tail = user[user.index("Assistant 1: <score>"):]
    assert tail == "Assistant 1: <score>\nAssistant 2: <score>"
    reply = "Blue is a colour; seven is not.\n" + tail.replace("<score>", "9", 1).replace("<score>", "2", 1)
    assert parse_scores(reply) == Scores(9.0, 2.0)


@pytest.mark.parametrize("name", ["generator_hard", "generator_easy"])
def test_generator_prompts_carry_every_marker(name: str) -> None:
    msgs = render(load_template(name), seed="Give three tips for staying healthy.")
    user = msgs[-1]["content"]
    assert "[Seed instruction]\nGive three tips for staying healthy.\n[End of seed instruction]" in user
    text = "\n".join(m["content"] for m in msgs).lower()
    for marker in GENERATOR_MARKERS:
        assert marker.lower() in text, marker  # a marker the prompt does not contain would never fire


def test_generator_prompts_differ_in_what_they_ask() -> None:
    hard = render(load_template("generator_hard"), seed="x")[-1]["content"]
    easy = render(load_template("generator_easy"), seed="x")[-1]["content"]
    assert "same domain and ask for the same type of task" in hard and "as long and as demanding" in hard
    assert "same domain" in easy and "more rarely" in easy


def test_loader_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"teacher\.txt"):
        load_template("teacher", tmp_path)
    (tmp_path / "teacher.txt").write_text("=== user ===\n{{instruction}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=re.escape(f"{tmp_path / 'teacher.txt'}:2: malformed placeholder")):
        load_template("teacher", tmp_path)


def test_every_shipped_prompt_file_is_a_role_template() -> None:
    from lion_cli.eval.vicuna import JUDGE_TEMPLATES

    assert sorted(p.stem for p in PROMPTS.glob("*.txt")) == sorted(ROLE_TEMPLATES + JUDGE_TEMPLATES)
