"""`lion export data`: the distilled set and the judged pairs; the alpaca file re-imports unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lion_cli.cli.wiring import answer_keys
from lion_cli.config import load_settings
from lion_cli.core.types import Origin, Pool
from lion_cli.prompts_loader import load_role_prompts
from lion_cli.store.db import open_store
from lion_cli.store.loop_rows import save_response
from lion_cli.store.pools import add_instruction, set_pool

SEEDS = [
    {"instruction": "Name three primary colours.", "input": "", "output": "seed output, never exported"},
    {"instruction": "Translate to French.", "input": "Good morning", "output": ""},
    {"instruction": "Summarize the text.", "input": "Lions live in prides.\nThey hunt at night.", "output": ""},
    {"instruction": "Write a haiku about “autumn” — with unicode.", "input": "", "output": ""},
]
ANSWERS = ["Red, blue and yellow.", "Bonjour", "Lions are social night hunters.  \n", "Leaves fall / ...\n\nend"]


@pytest.fixture
def project(lion_cli: Any, tmp_path: Path) -> Path:
    """A project whose iteration 0 is trained and judged, and whose iteration 1 Train Pool holds one
    new hard instruction (answered) and one unanswered one."""
    seed = tmp_path / "seeds.json"
    seed.write_text(json.dumps(SEEDS, ensure_ascii=False), encoding="utf-8")
    res = lion_cli("init", str(tmp_path / "p"), "--seed", str(seed))
    assert res.exit_code == 0, res.stderr
    root = tmp_path / "p"
    with open_store(root / "lion.db") as store:
        settings = load_settings(root / "lion.toml")
        keys = answer_keys(settings, load_role_prompts(protocol=settings.loop.protocol))
        t_model, t_hash, s_hash = keys.teacher_model, keys.teacher_hash, keys.student_hash
        ids = [r[0] for r in store.query("SELECT id FROM instructions ORDER BY id")]
        for iid, text in zip(ids, ANSWERS, strict=True):
            save_response(store, iid, "teacher", t_model, t_hash, 0, text, "stop")
            save_response(store, iid, "student", "student-it0", s_hash, 0, f"student says {iid}", "stop")
        save_response(store, ids[0], "teacher", "other-model", "x", 0, "not this project's teacher", "stop")
        with store.tx():
            new = add_instruction(store, "Explain why lions roar.", "", Origin.HARD, 1, parent_id=ids[2])
            unanswered = add_instruction(store, "List lion subspecies.", "", Origin.EASY, 1, parent_id=ids[0])
            store.conn.execute("INSERT INTO iterations (iteration) VALUES (1)")
        set_pool(store, 1, Pool.TRAIN, [new, unanswered])
        save_response(store, new, "teacher", t_model, t_hash, 1, "Roaring marks territory.", "stop")
        with store.tx() as c:
            c.executemany("INSERT INTO labels VALUES (0, ?, ?, ?, ?, ?, 0)", [
                (ids[0], 9.0, 4.5, 4.5, "hard"), (ids[1], 8.0, 8.0, 0.0, "easy"),
                (ids[2], None, None, None, "unscored"), (ids[3], 7.5, 7.0, 0.5, "easy")])
    return root


def _export(lion_cli: Any, project: Path, *args: str) -> dict[str, Any]:
    res = lion_cli("export", "data", "--project", str(project), "--json", *args)
    assert res.exit_code == 0, res.stderr
    return dict(json.loads(res.stdout))


def test_alpaca_round_trip_through_lion_init(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "distilled.json"
    info = _export(lion_cli, project, "--format", "alpaca", "--out", str(out))
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert info["examples"] == 5 == len(rows)                       # 4 seeds + 1 answered new instruction
    assert [set(r) for r in rows] == [{"instruction", "input", "output"}] * 5
    assert rows[2]["output"] == "Lions are social night hunters."  # stripped, as lion init would
    assert "not this project's teacher" not in out.read_text(encoding="utf-8")

    res = lion_cli("init", str(tmp_path / "again"), "--seed", str(out))
    assert res.exit_code == 0, res.stderr
    with open_store(tmp_path / "again" / "lion.db") as store:
        back = [{"instruction": r["text"], "input": r["input"], "output": r["seed_output"]}
                for r in store.query("SELECT * FROM instructions ORDER BY id")]
    assert back == rows                                             # unchanged, order included


def test_iteration_selects_what_that_student_trained_on(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "it0.jsonl"
    info = _export(lion_cli, project, "--format", "jsonl", "--out", str(out), "--iteration", "0")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert info["examples"] == 4 and {r["origin"] for r in rows} == {"seed"} and {r["iteration"] for r in rows} == {0}
    assert rows[3]["output"] == ANSWERS[3]                          # jsonl keeps the answer as stored
    # Judged pairs: unscored items left out, both answers and both scores present.
    pairs = [json.loads(line) for line in Path(info["pairs_out"]).read_text(encoding="utf-8").splitlines()]
    assert info["pairs"] == 3 and [p["label"] for p in pairs] == ["hard", "easy", "easy"]
    # TRL's DPO layout: the referee preferred the teacher's answer (9.0 over 4.5).
    assert pairs[0]["chosen"] == ANSWERS[0] and pairs[0]["rejected"].startswith("student says")
    assert pairs[0]["prompt"] == SEEDS[0]["instruction"] and pairs[0]["chosen_from"] == "teacher"
    assert (pairs[0]["teacher_score"], pairs[0]["student_score"], pairs[0]["gap"]) == (9.0, 4.5, 4.5)

    out1 = tmp_path / "it1.jsonl"
    info1 = _export(lion_cli, project, "--format", "jsonl", "--out", str(out1), "--iteration", "1", "--no-pairs")
    rows1 = [json.loads(line) for line in out1.read_text(encoding="utf-8").splitlines()]
    # train_from = base (the default): iteration 1 trains on everything so far, the new one included.
    assert info1["examples"] == 5 and rows1[-1]["origin"] == "hard" and rows1[-1]["iteration"] == 1
    assert info1["pairs_out"] is None


def test_sharegpt_and_hf_layouts(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "sg.json"
    _export(lion_cli, project, "--format", "sharegpt", "--out", str(out))
    convs = json.loads(out.read_text(encoding="utf-8"))
    assert convs[1]["conversations"] == [{"from": "human", "value": "Translate to French.\n\nGood morning"},
                                         {"from": "gpt", "value": "Bonjour"}]
    info = _export(lion_cli, project, "--format", "hf", "--out", str(tmp_path / "hf"))
    card = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    assert "path: train.jsonl" in card and "path: pairs.jsonl" in card
    assert len((tmp_path / "hf" / "train.jsonl").read_text(encoding="utf-8").splitlines()) == info["examples"] == 5
    assert len((tmp_path / "hf" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_bad_format_is_refused(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    res = lion_cli("export", "data", "--project", str(project), "--format", "csv", "--out", str(tmp_path / "x"))
    assert res.exit_code == 2 and "--format: expected one of alpaca" in res.stderr


def test_train_from_previous_exports_only_that_iterations_train_pool(lion_cli: Any, project: Path,
                                                                    tmp_path: Path) -> None:
    from lion_cli.core.tomltext import set_key

    config = project / "lion.toml"
    config.write_text(set_key(config.read_text(encoding="utf-8"), "loop.train_from", "previous"), encoding="utf-8")
    out = tmp_path / "it1.jsonl"
    info = _export(lion_cli, project, "--format", "jsonl", "--out", str(out), "--iteration", "1", "--no-pairs")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # The iteration-1 student continued from the previous one on its own Train Pool: the one answered
    # new instruction (the unanswered one has no teacher answer to train on).
    assert info["examples"] == 1 and [r["instruction"] for r in rows] == ["Explain why lions roar."]
    info0 = _export(lion_cli, project, "--format", "jsonl", "--out", str(tmp_path / "it0.jsonl"), "--iteration", "0",
                    "--no-pairs")
    assert info0["examples"] == 4


# --- every layout, read back; TRL's DPO pairs; what is refused -------------------------------------

def _referee(project: Path) -> None:
    """Referee replies for the first seed: teacher-first unreadable at attempt 0, readable at 1 and 2."""
    from lion_cli.core.types import Order
    from lion_cli.store.loop_rows import save_judgement

    with open_store(project / "lion.db") as store:
        save_judgement(store, 1, 0, Order.TEACHER_FIRST, 0, "ref", "garbled", None, None, "unreadable")
        save_judgement(store, 1, 0, Order.TEACHER_FIRST, 1, "ref", "Scores: 9 4", 9.0, 4.0, None)
        save_judgement(store, 1, 0, Order.TEACHER_FIRST, 2, "ref", "Scores: 8 4", 8.0, 4.0, None)  # not the first
        save_judgement(store, 1, 0, Order.STUDENT_FIRST, 0, "ref", "Scores: 5 9", 5.0, 9.0, None)


def _seeds_of(project: Path) -> list[tuple[str, str]]:
    with open_store(project / "lion.db") as store:
        return [(r["text"], r["input"]) for r in store.query("SELECT text, input FROM instructions ORDER BY id")]


@pytest.mark.parametrize(("fmt", "name"), [("alpaca", "d.json"), ("jsonl", "d.jsonl"), ("sharegpt", "d.sharegpt.json"),
                                           ("openai", "d.openai.jsonl"), ("parquet", "d.parquet"), ("hf", "d")])
def test_every_layout_reads_back_to_the_same_instructions(lion_cli: Any, project: Path, tmp_path: Path, fmt: str,
                                                          name: str) -> None:
    out = tmp_path / name
    info = _export(lion_cli, project, "--out", str(out))         # the format from the name
    assert info["format"] == fmt and info["examples"] == 5
    res = lion_cli("init", str(tmp_path / "again"), "--seed", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    exported = [(s["instruction"], s["input"]) for s in SEEDS] + [("Explain why lions roar.", "")]
    assert _seeds_of(tmp_path / "again") == exported            # inputs with newlines included, order kept


def test_hf_folder_and_parquet_are_what_datasets_and_pyarrow_read(lion_cli: Any, project: Path,
                                                                  tmp_path: Path) -> None:
    import datasets
    import pyarrow.parquet as pq

    _export(lion_cli, project, "--out", str(tmp_path / "hf"))
    train = datasets.load_dataset(str(tmp_path / "hf"), split="train", cache_dir=str(tmp_path / "cache"))
    pairs = datasets.load_dataset(str(tmp_path / "hf"), "pairs", split="train", cache_dir=str(tmp_path / "cache"))
    assert train.num_rows == 5 and train[1]["output"] == "Bonjour"
    assert pairs.num_rows == 3 and {"prompt", "chosen", "rejected"} <= set(pairs.column_names)
    info = _export(lion_cli, project, "--out", str(tmp_path / "d.parquet"))
    assert info["pairs_out"] == str(tmp_path / "d.pairs.parquet")
    assert pq.read_table(tmp_path / "d.parquet").num_rows == 5
    assert pq.read_table(tmp_path / "d.pairs.parquet").column_names[:3] == ["prompt", "chosen", "rejected"]


def test_pairs_in_trls_dpo_layout_with_both_referee_replies(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    _referee(project)
    with open_store(project / "lion.db") as store, store.tx() as c:   # the referee preferred the student here
        c.execute("UPDATE labels SET teacher_score=7.0, student_score=8.0, gap=-1.0 WHERE instruction_id=2")
    info = _export(lion_cli, project, "--out", str(tmp_path / "d.jsonl"))
    pairs = [json.loads(line) for line in Path(info["pairs_out"]).read_text(encoding="utf-8").splitlines()]
    first, second = pairs[0], pairs[1]
    assert (first["prompt"], first["chosen"], first["chosen_from"]) == (SEEDS[0]["instruction"], ANSWERS[0], "teacher")
    assert first["referee_teacher_first"] == "Scores: 9 4"        # the readable attempt, the one that counted
    assert first["referee_student_first"] == "Scores: 5 9"
    assert second["prompt"] == "Translate to French.\n\nGood morning"   # the user turn: instruction, then input
    assert (second["chosen"], second["rejected"], second["chosen_from"]) == ("student says 2", "Bonjour", "student")
    assert second["gap"] == -1.0 and second["referee_teacher_first"] == ""


def test_an_iteration_that_does_not_exist_is_refused(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    res = lion_cli("export", "data", "--project", str(project), "--out", str(tmp_path / "d.jsonl"), "--iteration", "5")
    assert res.exit_code == 2 and "--iteration 5: this project has iterations 0–1" in res.stderr
    assert not (tmp_path / "d.jsonl").exists() and not (tmp_path / "d.pairs.jsonl").exists()


def test_no_overwrite_without_force(lion_cli: Any, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    out.write_text("mine\n", encoding="utf-8")
    res = lion_cli("export", "data", "--project", str(project), "--out", str(out))
    assert res.exit_code == 2 and f"{out}: already exists (--force replaces it)" in res.stderr
    assert out.read_text(encoding="utf-8") == "mine\n" and not (tmp_path / "d.pairs.jsonl").exists()
    out.unlink()
    (tmp_path / "d.pairs.jsonl").write_text("mine\n", encoding="utf-8")   # the pairs file alone is guarded too
    assert lion_cli("export", "data", "--project", str(project), "--out", str(out)).exit_code == 2
    assert not out.exists()
    _export(lion_cli, project, "--out", str(out), "--force")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5


def test_pairs_file_written_even_with_no_pairs_and_a_name_that_says_no_format(lion_cli: Any, project: Path,
                                                                             tmp_path: Path) -> None:
    info = _export(lion_cli, project, "--out", str(tmp_path / "it1.jsonl"), "--iteration", "1")
    assert info["pairs"] == 0 and Path(info["pairs_out"]).read_text(encoding="utf-8") == ""
    res = lion_cli("export", "data", "--project", str(project), "--out", str(tmp_path / "d.txt"))
    assert res.exit_code == 2 and "the name does not say the format" in res.stderr
