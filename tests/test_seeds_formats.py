"""`lion init --seed` for every format beyond Alpaca JSON/JSONL, text and Self-Instruct (tests/test_init.py):
ShareGPT, OpenAI messages, CSV/TSV with a header, a column map, Parquet, `datasets` folders, folders of data
files and hub ids; progress on stderr for a big file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROWS = [("Name a colour.", "", "Red."), ("Translate to French.", "Good morning", "Bonjour"),
        ("Summarize the text.", "Lions live in prides.\nThey hunt at night.", "Lions are social.")]


def _seeds(project: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(project / "lion.db")
    try:
        return [tuple(r) for r in conn.execute("SELECT text, input, seed_output FROM instructions ORDER BY id")]
    finally:
        conn.close()


def _init(lion_cli: Any, tmp_path: Path, seed: Path | str, *extra: str) -> tuple[dict[str, Any], list[Any]]:
    result = lion_cli("init", str(tmp_path / "proj"), "--seed", str(seed), "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), _seeds(tmp_path / "proj")


def test_sharegpt_first_human_turn_and_system_prompt_as_input(lion_cli: Any, tmp_path: Path) -> None:
    seed = tmp_path / "sg.json"
    seed.write_text(json.dumps([
        {"conversations": [{"from": "system", "value": "Answer in one word."}, {"from": "human", "value": "Sky?"},
                           {"from": "gpt", "value": "Blue."}, {"from": "human", "value": "later turn, ignored"}]},
        {"conversations": [{"from": "human", "value": "No reply yet."}]},
    ]), encoding="utf-8")
    info, seeds = _init(lion_cli, tmp_path, seed)
    assert info["format"] == "sharegpt"
    assert seeds == [("Sky?", "Answer in one word.", "Blue."), ("No reply yet.", "", "")]


def test_openai_messages_jsonl(lion_cli: Any, tmp_path: Path) -> None:
    seed = tmp_path / "chat.jsonl"
    lines = [{"messages": [{"role": "user", "content": "Add 2 and 2."}, {"role": "assistant", "content": "4"}]},
             {"messages": [{"role": "system", "content": "You are terse."},
                           {"role": "user", "content": [{"type": "text", "text": "List "}, {"type": "text",
                                                                                         "text": "primes."}]}]}]
    seed.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    info, seeds = _init(lion_cli, tmp_path, seed)
    assert info["format"] == "openai"
    assert seeds == [("Add 2 and 2.", "", "4"), ("List primes.", "You are terse.", "")]


def test_csv_with_a_header_and_quoted_newlines(lion_cli: Any, tmp_path: Path) -> None:
    import csv

    seed = tmp_path / "seeds.csv"
    with seed.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Output", "instruction", "input", "notes"])   # any order, any case, extra columns
        writer.writerows([(out, ins, inp, "x") for ins, inp, out in ROWS])
    info, seeds = _init(lion_cli, tmp_path, seed)
    assert info["format"] == "csv" and seeds == ROWS                    # the header is not a seed


def test_tsv_and_a_column_map(lion_cli: Any, tmp_path: Path) -> None:
    seed = tmp_path / "qa.tsv"
    seed.write_text("question\tcontext\tanswer\nWhat is 2+2?\t\t4\nTranslate.\tHola\tHello\n", encoding="utf-8")
    info, seeds = _init(lion_cli, tmp_path, seed, "--seed-columns", "instruction=question,input=context,output=answer")
    assert info["format"] == "tsv" and seeds == [("What is 2+2?", "", "4"), ("Translate.", "Hola", "Hello")]


def test_column_map_on_json_records(lion_cli: Any, tmp_path: Path) -> None:
    seed = tmp_path / "qa.jsonl"
    seed.write_text('{"q": "Why is the sky blue?", "a": "Scattering."}\n', encoding="utf-8")
    _, seeds = _init(lion_cli, tmp_path, seed, "--seed-columns", "instruction=q,output=a")
    assert seeds == [("Why is the sky blue?", "", "Scattering.")]


def _records() -> list[dict[str, str]]:
    return [{"instruction": i, "input": x, "output": o} for i, x, o in ROWS]


def test_parquet(lion_cli: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    seed = tmp_path / "seeds.parquet"
    pq.write_table(pa.Table.from_pylist(_records()), seed)
    info, seeds = _init(lion_cli, tmp_path, seed)
    assert info["format"] == "parquet" and seeds == ROWS


@pytest.mark.parametrize("split", ["dataset", "dict"])
def test_datasets_save_to_disk_folder(lion_cli: Any, tmp_path: Path, split: str) -> None:
    import datasets

    data = datasets.Dataset.from_list(_records())
    folder = tmp_path / "saved"
    if split == "dict":  # the train split is read, not the test split
        other = datasets.Dataset.from_list([{"instruction": "from the test split", "input": "", "output": ""}])
        datasets.DatasetDict({"test": other, "train": data}).save_to_disk(str(folder))
    else:
        data.save_to_disk(str(folder))
    info, seeds = _init(lion_cli, tmp_path, folder)
    assert info["format"] == "hf-saved" and seeds == ROWS


def test_folder_of_data_files_reads_the_train_files(lion_cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "hub-layout"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    (folder / "data" / "test.jsonl").write_text('{"instruction": "held out"}\n', encoding="utf-8")
    (folder / "README.md").write_text("# a card\n", encoding="utf-8")
    info, seeds = _init(lion_cli, tmp_path, folder)
    assert info["format"] == "folder (jsonl)" and seeds == ROWS


def test_hub_id_through_datasets(lion_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    asked: list[str] = []

    def load_dataset(name: str) -> Any:
        asked.append(name)
        return datasets.DatasetDict({"train": datasets.Dataset.from_list(_records())})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    info, seeds = _init(lion_cli, tmp_path, "someone/instructions")
    assert asked == ["someone/instructions"] and info["format"] == "hub" and seeds == ROWS
    assert 'seed_file = "someone/instructions"' in (tmp_path / "proj" / "lion.toml").read_text(encoding="utf-8")


def test_hub_id_offline_is_a_clear_error(tmp_path: Path) -> None:
    """A real `lion` process with the hub switched off: exit 2, the id named, what to do instead."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-m", "lion_cli", "init", str(tmp_path / "p"), "--seed", "tatsu-lab/alpaca"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "tatsu-lab/alpaca: could not load this dataset from the Hugging Face hub" in proc.stderr
    assert "save_to_disk" in proc.stderr and not (tmp_path / "p").exists()


@pytest.mark.parametrize("record", [
    lambda i: {"instruction": f"Task {i}."},                                   # plain Alpaca: core/seed_fast.py
    lambda i: {"conversations": [{"from": "human", "value": f"Task {i}."}]},   # any other: the general parser
], ids=["fast-path", "general-parser"])
def test_a_big_file_shows_progress(lion_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   record: Callable[[int], dict[str, Any]]) -> None:
    from lion_cli.cli import seed_progress

    monkeypatch.setattr(seed_progress, "QUIET_S", 0.0)   # as if the file had taken long to read
    monkeypatch.setattr(seed_progress, "EVERY_S", 0.0)
    seed = tmp_path / "big.jsonl"
    seed.write_text("".join(json.dumps(record(i)) + "\n" for i in range(25_000)), encoding="utf-8")
    result = lion_cli("init", str(tmp_path / "proj"), "--seed", str(seed), "--json")
    assert result.exit_code == 0
    assert f"reading {seed}: 10,000 rows" in result.stderr and f"reading {seed}: 20,000 rows" in result.stderr
    assert f"read {seed}: 25,000 rows" in result.stderr
    assert json.loads(result.stdout)["seeds"] == 25_000          # stdout stays the result alone


def test_progress_never_counts_back_when_the_general_parser_reads_a_file_again(
        lion_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lion_cli.cli import seed_progress

    monkeypatch.setattr(seed_progress, "QUIET_S", 0.0)
    monkeypatch.setattr(seed_progress, "EVERY_S", 0.0)
    seed = tmp_path / "big.jsonl"   # plain records, then one the fast path gives up on at the very end
    seed.write_text("".join(json.dumps({"instruction": f"Task {i}."}) + "\n" for i in range(25_000))
                    + json.dumps({"instruction": "Last.", "input": None}) + "\n", encoding="utf-8")
    result = lion_cli("init", str(tmp_path / "proj"), "--seed", str(seed), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["seeds"] == 25_001
    counts = [int(line.split(": ")[1].split(" rows")[0].replace(",", ""))
              for line in result.stderr.splitlines() if line.startswith("reading ")]
    assert counts == [10_000, 20_000]   # the fast path's; the general parser's re-read adds none below them


def test_a_small_file_is_quiet(lion_cli: Any, tmp_path: Path) -> None:
    seed = tmp_path / "s.jsonl"
    seed.write_text("".join(json.dumps({"instruction": f"Task {i}."}) + "\n" for i in range(12_000)), encoding="utf-8")
    result = lion_cli("init", str(tmp_path / "proj"), "--seed", str(seed))
    assert result.exit_code == 0 and "reading" not in result.stderr
