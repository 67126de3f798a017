"""Evaluation protocols: each renders every task shape as written in docs/evaluation.md and reads
replies by its own rule; `harness` agrees item for item with lm-evaluation-harness's own code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.bench_tasks import BBH_ALL_TASKS
from lion_cli.eval.protocol_run import Example, get_protocol, load_task_examples, run_protocol
from lion_cli.eval.protocols import Decoding

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def _ex(benchmark: str, task: str, idx: int = 0) -> Example:
    return load_task_examples(benchmark, [task], limit=idx + 1, data_dir=DATA)[task][idx]


# --- paper ---------------------------------------------------------------------------------------

def test_paper_renders_the_dataset_question_and_samples_as_the_official_inference() -> None:
    paper = get_protocol("paper")
    date = _ex("bbh", "date_understanding")
    assert paper.prompt(date) == date.raw["input"] and paper.prompt(date).endswith("(F) 07/25/1937")
    assert paper.prompt(_ex("bbh", "boolean_expressions")) == "not ( True ) and ( True ) is"
    sat = _ex("agieval", "sat-math")
    assert paper.prompt(sat).startswith("Question: ") and "\nOptions:\n(A) " in paper.prompt(sat)
    assert not paper.raw_prompt   # asked in the student's own layout
    assert paper.decoding("navigate", None) == Decoding(1024, temperature=0.7, top_p=1.0, top_k=50, seed=42)
    assert paper.decoding("navigate", 32).max_new_tokens == 32


def test_paper_reads_the_first_offered_capital_letter_character_by_character() -> None:
    paper = get_protocol("paper")
    date = _ex("bbh", "date_understanding")              # target B, options A–F
    assert paper.read(date, "(B) 12/14/2026").prediction == "B"
    assert paper.read(date, "Answer: B").prediction == "A"     # the A of "Answer" comes first
    assert paper.read(date, "The answer is (B)").prediction == "B"   # T, h, e … are not offered
    assert paper.read(date, "I think it is B").score == 1.0  # I is not offered here
    assert paper.read(date, "none of these").prediction is None
    # Two-label tasks: the labels' initials count (True/False → T/F; Yes/No → Y/N; valid/invalid → V/I).
    boolean = _ex("bbh", "boolean_expressions")           # target False
    assert paper.read(boolean, "False").prediction == "False" and paper.read(boolean, "False").score == 1.0
    assert paper.read(boolean, "The result is False").prediction == "True"   # the T of "The"
    fallacy = _ex("bbh", "formal_fallacies")               # target invalid
    assert paper.read(fallacy, "Invalid").score == 1.0 and paper.read(fallacy, "valid").prediction is None
    assert paper.read(fallacy, "Valid").prediction == "valid"
    # Free-form tasks: exact match of the first line.
    words = _ex("bbh", "word_sorting")
    assert paper.read(words, words.raw["target"] + "\nmore").score == 1.0
    dyck = _ex("bbh", "dyck_languages")                    # target "] ]"
    assert paper.read(dyck, "] ]").score == 1.0 and paper.read(dyck, "]").score == 0.0


# --- agieval -------------------------------------------------------------------------------------

def test_agieval_renders_its_zero_shot_prompt() -> None:
    agi = get_protocol("agieval")
    sat = _ex("agieval", "sat-en")
    text = agi.prompt(sat)
    assert text.startswith(sat.raw["passage"] + "Q: " + sat.raw["question"] + " Answer Choices: (A)")
    assert text.endswith(" ".join(sat.raw["options"]) + "\nA: Among A through D, the answer is")
    aqua = _ex("agieval", "aqua-rat")
    assert agi.prompt(aqua).startswith("Q: ") and agi.prompt(aqua).endswith("Among A through E, the answer is")
    date = _ex("bbh", "date_understanding")
    assert agi.prompt(date).endswith("Answer Choices: (A)12/11/1937 (B)12/25/1937 (C)01/04/1938 (D)12/04/1937 "
                                     "(E)12/25/2006 (F)07/25/1937\nA: Among A through F, the answer is")
    assert agi.prompt(_ex("bbh", "navigate")).endswith("(A)Yes (B)No\nA: Among A through B, the answer is")
    assert agi.prompt(_ex("bbh", "word_sorting")).endswith("\nA: The answer is")
    assert agi.decoding("sat-en", None) == Decoding(64)


def test_agieval_reads_the_first_character_among_a_to_f() -> None:
    agi = get_protocol("agieval")
    sat = _ex("agieval", "sat-math")                       # target D, four options
    assert agi.read(sat, " D").score == 1.0
    assert agi.read(sat, " (D) because").prediction == "D"
    assert agi.read(sat, "Correct: D").prediction == "C"    # the C of "Correct"
    assert agi.read(sat, "E").prediction == "E"             # AGIEval's set is A–F whatever the options
    assert agi.read(sat, "the answer is d").prediction is None
    snarks = _ex("bbh", "navigate")                        # letters A–B only on BBH
    assert agi.read(snarks, "Definitely B").prediction == "B"


# --- lion ----------------------------------------------------------------------------------------

def test_lion_keeps_its_own_prompt_and_standalone_letter() -> None:
    lion = get_protocol("lion")
    date = _ex("bbh", "date_understanding")
    assert lion.prompt(date).endswith("Answer with the letter of the correct option.")
    assert lion.read(date, "Answer: B").prediction == "B"   # "A" inside "Answer" does not stand alone
    assert lion.read(_ex("bbh", "navigate"), "(B)").prediction == "B"
    assert lion.read(_ex("bbh", "object_counting"), "**8**").prediction == "8"


# --- harness -------------------------------------------------------------------------------------

def test_harness_renders_bbh_as_text_with_its_stops() -> None:
    pytest.importorskip("lm_eval")
    harness = get_protocol("harness")
    nav = _ex("bbh", "navigate")
    assert harness.raw_prompt and harness.prompt(nav) == (
        "Given a series of navigation instructions, determine whether one would end up back at the starting "
        f"point.\n\nQ: {nav.raw['input']}\nA:")
    assert harness.decoding("navigate", None) == Decoding(256, stop=("</s>", "Q:", "<|im_end|>"))
    assert harness.mode("bbh") == "generate" and harness.mode("agieval") == "loglik"


def _variants(ex: Example) -> list[str]:
    """Replies of many shapes for one item: the target in several wrappings, an option's text,
    number words, a wrong label, nothing."""
    target = str(ex.raw["target"])
    texts = list(ex.item.options) or ["seven"]
    return [f" {target}", f" The answer is {target}.", f" {texts[-1]}", f"Answer: {target.strip('()')}",
            " twenty three, I think", "", f" {target.lower()}\n\nQ: next", " Let me see: C"]


def test_harness_predictions_and_metric_match_lm_evaluation_harness_on_every_bbh_task(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from harness_reference import bbh_tasks, generate_results

    from lion_cli.student.scripts.batch_decode import cut_at_stop

    harness = get_protocol("harness")
    examples = load_task_examples("bbh", list(BBH_ALL_TASKS), limit=6, data_dir=DATA)
    reference = bbh_tasks(tmp_path, DATA, list(BBH_ALL_TASKS))
    compared = 0
    for task, exs in examples.items():
        stops = harness.decoding(task, None).stop
        for shift in range(len(_variants(exs[0]))):
            # The model's raw text, cut at the stops as lion's generation job cuts it.
            replies = [cut_at_stop(_variants(ex)[(ex.item.idx + shift) % 8], stops)[0] for ex in exs]
            ref = generate_results(reference[task], replies)
            for ex, reply, want in zip(exs, replies, ref, strict=True):
                got = harness.read(ex, reply)
                assert harness.prompt(ex) == want["context"] and list(stops) == want["until"], task
                assert got.prediction == want["flexible-extract"], (task, ex.item.idx, reply)
                assert got.score == want["flexible-extract:metrics"]["exact_match"], (task, reply)
                assert got.detail["strict-match"] == want["strict-match:metrics"]["exact_match"], (task, reply)
                compared += 1
    assert compared == 27 * 6 * 8


def test_harness_agieval_likelihood_metrics_match_lm_evaluation_harness(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from harness_reference import agieval_task, multiple_choice_results

    harness = get_protocol("harness")
    exs = load_task_examples("agieval", ["lsat-ar"], limit=5, data_dir=DATA)["lsat-ar"]
    rows = [{"query": harness.prompt(ex), "choices": harness.options(ex),
             "gold": [ex.item.letters.index(ex.item.target)]} for ex in exs]
    # Log-likelihoods where the raw and the length-normalised picks differ on some items.
    logliks = [[-float(len(o)) * (1 + 0.1 * ((k + i) % 3)) for k, o in enumerate(harness.options(ex))]
               for i, ex in enumerate(exs)]
    ref = multiple_choice_results(agieval_task(tmp_path, rows, "lsat-ar"), logliks)
    for ex, ll, want in zip(exs, logliks, ref, strict=True):
        assert want["context"] == harness.prompt(ex)
        assert [c.removeprefix(" ") for c in want["continuations"]] == harness.options(ex)
        assert all(c.startswith(" ") for c in want["continuations"])  # lion's raw scoring adds that space
        got = harness.read_options(ex, ll, [1] * len(ll))
        assert got.score == want["metrics"]["acc"] and got.detail["acc_norm"] == want["metrics"]["acc_norm"]


# --- running a protocol --------------------------------------------------------------------------

def test_run_protocol_calls_once_per_decoding_and_names_the_protocol() -> None:
    calls: list[tuple[int, Decoding, bool]] = []

    def generate(rows: list[dict[str, Any]], decoding: Decoding, raw: bool) -> dict[str, str]:
        calls.append((len(rows), decoding, raw))
        return {r["id"]: "(B)" for r in rows}

    def score(rows: list[dict[str, Any]], raw: bool) -> dict[str, tuple[list[float], list[int]]]:
        raise AssertionError("generate-only protocol")

    items = load_task_examples("bbh", ["date_understanding", "movie_recommendation"], limit=3, data_dir=DATA)
    got = run_protocol("bbh", items, get_protocol("paper"), generate=generate, score=score, max_new_tokens=8)
    assert calls == [(6, Decoding(8, temperature=0.7, top_p=1.0, top_k=50, seed=42), False)]
    assert [(r.task, r.mode, r.n) for r in got] == [("date_understanding", "paper", 3),
                                                     ("movie_recommendation", "paper", 3)]
    assert got[0].correct == 2.0   # targets B A B
