"""Malformed seed data in the newer formats: exit 2, an error naming the file, the line or row and what
was expected, and nothing written (the JSON/JSONL/text cases are in tests/test_init.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# (file name, content, the location the error must name after the file, a phrase the reason must contain)
MALFORMED: list[tuple[str, bytes, str, str]] = [
    ("nohead.csv", b"question,answer\nq,a\n", ":1: ", "expected a header row with an 'instruction' column"),
    ("short.csv", b"instruction,input,output\na,b,c\nd,e\n", ":3: ", "expected 3 fields as in the header, got 2"),
    ("quote.csv", b'instruction\n"a\n', ":2: ", "not valid CSV"),
    ("empty.csv", b"instruction,input\n , x\n", ":2: ", "empty instruction"),
    ("multi.csv", b'instruction,input\n"two\nlines",x\nok,y,z\n', ":4: ", "expected 2 fields"),
    ("nouser.json", b'[\n {"conversations": [{"from": "human", "value": "a"}]},\n'
                    b' {"conversations": [{"from": "gpt", "value": "b"}]}\n]', ":3: ", "no user turn"),
    ("badturns.jsonl", b'{"messages": [{"role": "user", "content": "a"}]}\n{"messages": "hi"}\n', ":2: ",
     "field 'messages' must be a list of turns"),
    ("mixed.jsonl", b'{"messages": [{"role": "user", "content": "a"}]}\n{"instruction": "b"}\n', ":2: ",
     "field 'messages' must be a list"),
    ("shape.jsonl", b'{"prompt": "a", "completion": "b"}\n', ":1: ", "missing field 'instruction' (expected"),
]


@pytest.mark.parametrize(("name", "content", "where", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_rows(lion_cli: Any, tmp_path: Path, name: str, content: bytes, where: str, reason: str) -> None:
    seed = tmp_path / name
    seed.write_bytes(content)
    result = lion_cli("init", str(tmp_path / "fresh"), "--seed", str(seed))
    assert result.exit_code == 2
    assert f"{seed}{where}" in result.stderr and reason in result.stderr, result.stderr
    assert result.stdout == "" and not (tmp_path / "fresh").exists()


def _refused(lion_cli: Any, tmp_path: Path, seed: Path | str, *extra: str) -> str:
    result = lion_cli("init", str(tmp_path / "fresh"), "--seed", str(seed), *extra)
    assert result.exit_code == 2 and result.stdout == ""
    assert not (tmp_path / "fresh").exists()
    return str(result.stderr)


def test_parquet_row_errors_name_the_row(lion_cli: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    seed = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist([{"instruction": "ok", "input": ""}, {"instruction": "  ", "input": ""}]), seed)
    assert f"{seed}: row 2: empty instruction" in _refused(lion_cli, tmp_path, seed)
    pq.write_table(pa.Table.from_pylist([{"question": "no instruction column"}]), seed)
    assert f"{seed}: row 1: missing field 'instruction'" in _refused(lion_cli, tmp_path, seed)
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet", encoding="utf-8")
    assert f"{fake}: not a readable Parquet file" in _refused(lion_cli, tmp_path, fake)


def test_saved_dataset_errors(lion_cli: Any, tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "saved"
    datasets.DatasetDict({"a": datasets.Dataset.from_list([{"instruction": "x"}]),
                          "b": datasets.Dataset.from_list([{"instruction": "y"}])}).save_to_disk(str(folder))
    assert f"{folder}: splits a, b and none is called train" in _refused(lion_cli, tmp_path, folder)
    one = tmp_path / "one"
    # arrow gives the second row a null instruction
    datasets.Dataset.from_list([{"instruction": "fine"}, {"text": "no instruction"}]).save_to_disk(str(one))
    assert f"{one}: row 2: empty instruction" in _refused(lion_cli, tmp_path, one)


def test_column_map_errors(lion_cli: Any, tmp_path: Path) -> None:
    seed = tmp_path / "s.csv"
    seed.write_text("q,a\nx,y\n", encoding="utf-8")
    assert "--seed-columns 'prompt=q': the field must be one of instruction, input, output" in _refused(
        lion_cli, tmp_path, seed, "--seed-columns", "prompt=q")
    assert "--seed-columns 'instruction': expected FIELD=COLUMN" in _refused(
        lion_cli, tmp_path, seed, "--seed-columns", "instruction")
    assert f"{seed}:1: no column 'question' in the header (named by --seed-columns instruction=question" in _refused(
        lion_cli, tmp_path, seed, "--seed-columns", "instruction=question")
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text('{"q": "x"}\n{"a": "y"}\n', encoding="utf-8")
    assert f"{jsonl}:2: missing column 'q' (named by --seed-columns instruction=q)" in _refused(
        lion_cli, tmp_path, jsonl, "--seed-columns", "instruction=q")


def test_folders_and_names_that_are_not_seeds(lion_cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.md").write_text("# nothing here", encoding="utf-8")
    assert f"{empty}: a folder with no data files" in _refused(lion_cli, tmp_path, empty)
    # A missing path that looks like a file is not sent to the hub.
    assert "data/seeds.json: seed file not found" in _refused(lion_cli, tmp_path, "data/seeds.json")
