"""Prompts for each BBH / AGIEval task shape, built from the real files in shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from lion_cli.core.bench_tasks import (
    AGIEVAL_TASKS,
    ASK_FREE,
    ASK_LETTER,
    ASK_TEXT,
    BBH_ALL_TASKS,
    BBH_BINARY_TASKS,
    BBH_FREE_TASKS,
    BBH_LION_TASKS,
    BenchDataError,
    bbh_items,
)
from lion_cli.eval.data import load_items

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def test_task_sets_match_the_paper() -> None:
    assert len(BBH_LION_TASKS) == 23 and len(BBH_ALL_TASKS) == 27 and len(AGIEVAL_TASKS) == 8
    assert not set(BBH_FREE_TASKS) & set(BBH_LION_TASKS)


def test_letter_task_prompt() -> None:
    item = load_items("bbh", "date_understanding", DATA)[0]
    assert item.letters == ("A", "B", "C", "D", "E", "F") and item.target == "B"
    assert item.options[1] == "12/25/1937"
    prompt = item.prompt()
    assert prompt.startswith("Today is Christmas Eve of 1937. What is the date tomorrow in MM/DD/YYYY?\nOptions:\n")
    assert "\n(B) 12/25/1937\n" in prompt and prompt.endswith(f"\n\n{ASK_LETTER}")
    assert prompt.count("Options:") == 1


@pytest.mark.parametrize("task", sorted(BBH_BINARY_TASKS))
def test_binary_tasks_posed_with_lettered_options(task: str) -> None:
    items = load_items("bbh", task, DATA)
    for item in items[:20]:
        assert item.letters == ("A", "B")
        assert {o.lower() for o in item.options} == {lab.lower() for lab in BBH_BINARY_TASKS[task]}
        prompt = item.prompt()
        assert f"Options:\n(A) {item.options[0]}\n(B) {item.options[1]}\n\n{ASK_LETTER}" in prompt
        assert "\n- " not in prompt.split("Options:")[-1]   # the upstream dash list was replaced
        assert item.options[item.letters.index(item.target)].lower() in {"true", "false", "yes", "no",
                                                                          "valid", "invalid"}


def test_binary_targets_map_to_letters() -> None:
    item = load_items("bbh", "boolean_expressions", DATA)[0]     # "not ( True ) and ( True ) is" -> False
    assert item.options == ("True", "False") and item.target == "B"
    causal = load_items("bbh", "causal_judgement", DATA)[0]      # lists "- Yes\n- No", target No
    assert causal.options == ("Yes", "No") and causal.target == "B"
    fallacy = load_items("bbh", "formal_fallacies", DATA)[0]     # "valid " has a trailing space upstream
    assert fallacy.options == ("valid", "invalid") and fallacy.target == "B"


@pytest.mark.parametrize(("task", "bad"), [("movie_recommendation", 1), ("ruin_names", 2)])
def test_known_bad_targets_are_skipped_and_counted(task: str, bad: int) -> None:
    items = load_items("bbh", task, DATA)
    assert sum(1 for i in items if i.skip == "bad_target") == bad
    assert all(i.target in i.letters for i in items if not i.skip)


def test_no_other_task_has_bad_targets() -> None:
    for task in BBH_ALL_TASKS:
        if task not in ("movie_recommendation", "ruin_names"):
            assert not any(i.skip for i in load_items("bbh", task, DATA)), task


def test_free_form_prompt() -> None:
    item = load_items("bbh", "object_counting", DATA)[0]
    assert not item.is_choice and item.target == "8"
    assert item.prompt().endswith(f"How many musical instruments do I have?\n\n{ASK_FREE}")


def test_loglik_prompt_asks_for_the_text() -> None:
    item = load_items("bbh", "snarks", DATA)[0]
    assert item.prompt("loglik").endswith(ASK_TEXT)


def test_agieval_with_passage() -> None:
    item = load_items("agieval", "lsat-ar", DATA)[0]
    assert item.letters == ("A", "B", "C", "D", "E") and item.target == "C"
    prompt = item.prompt()
    assert prompt.startswith("Of the eight students")
    assert "\n\nQuestion: Which one of the following could be the schedule" in prompt
    assert "\n(A) Mon. morning: Helen;" in prompt and prompt.endswith(ASK_LETTER)


def test_agieval_without_passage() -> None:
    item = load_items("agieval", "aqua-rat", DATA)[0]          # passage null, option "(A)5(√3 + 1)"
    assert item.stem.startswith("Question: A car is being driven")
    assert item.options[0] == "5(√3 + 1)" and item.target == "A"
    sat = load_items("agieval", "sat-math", DATA)[0]            # passage "" (empty string)
    assert sat.stem.startswith("Question: If $\\frac{x-1}{3}=k$")
    assert sat.letters == ("A", "B", "C", "D") and sat.target == "D"


@pytest.mark.parametrize("task", AGIEVAL_TASKS)
def test_every_agieval_task_loads(task: str) -> None:
    items = load_items("agieval", task, DATA)
    assert items and all(i.target in i.letters for i in items)


def test_malformed_task_file_is_named() -> None:
    with pytest.raises(BenchDataError, match=r"bbh/navigate.json example 0: target 'Maybe'"):
        bbh_items("navigate", {"examples": [{"input": "Go?\nOptions:\n- Yes\n- No", "target": "Maybe"}]})
    with pytest.raises(BenchDataError, match="expected an 'Options:' list"):
        bbh_items("snarks", {"examples": [{"input": "no options here", "target": "(A)"}]})
