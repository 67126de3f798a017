"""The file layouts `lion export data` writes; each one `lion init --seed` reads back to the same instructions.

Training rows (instruction, input, output = the teacher's answer, origin, iteration) as:
- alpaca: a JSON array of instruction / input / output;
- jsonl: one object per line, every field;
- sharegpt: a JSON array of {"conversations": [human, gpt]} (the human turn is the instruction, then its
  input after a blank line), plus instruction, input, origin and iteration beside the conversation;
- openai: JSONL of {"messages": [user, assistant]} with the same fields beside it;
- parquet: one table, every field;
- hf: a folder that `datasets.load_dataset(folder)` reads (train.jsonl, pairs.jsonl and a README whose
  configs name them).
The extra fields of the chat layouts are what lets an item with an input come back as it was (a chat
trainer ignores them). Preference pairs are JSONL (Parquet beside a Parquet export) in TRL's DPO layout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lion_cli.core.seed_records import user_text

Rows = Sequence[dict[str, Any]]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half an export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


def jsonl_text(rows: Rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _beside(row: dict[str, Any]) -> dict[str, Any]:
    return {"instruction": row["instruction"], "input": row["input"], "origin": row["origin"],
            "iteration": row["iteration"]}


def _alpaca(rows: Rows, out: Path) -> None:
    # Surrounding whitespace is stripped because `lion init` strips it: the file reads back unchanged.
    alpaca = [{"instruction": r["instruction"], "input": r["input"], "output": r["output"].strip()} for r in rows]
    write_atomic(out, json.dumps(alpaca, ensure_ascii=False, indent=1) + "\n")


def _sharegpt(rows: Rows, out: Path) -> None:
    convs = [{"conversations": [{"from": "human", "value": user_text(r["instruction"], r["input"])},
                                {"from": "gpt", "value": r["output"]}], **_beside(r)} for r in rows]
    write_atomic(out, json.dumps(convs, ensure_ascii=False, indent=1) + "\n")


def _openai(rows: Rows, out: Path) -> None:
    write_atomic(out, jsonl_text([{"messages": [{"role": "user", "content": user_text(r["instruction"], r["input"])},
                                                {"role": "assistant", "content": r["output"]}], **_beside(r)}
                                  for r in rows]))


def parquet_bytes(rows: Rows, columns: Sequence[str]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError("writing Parquet needs pyarrow (pip install 'lion-cli[data]')") from None
    table = pa.Table.from_pylist(list(rows)) if rows else pa.table({c: pa.array([], pa.string()) for c in columns})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


TRAIN_COLUMNS = ("instruction", "input", "output", "origin", "iteration")


def _parquet(rows: Rows, out: Path) -> None:
    write_atomic(out, parquet_bytes(rows, TRAIN_COLUMNS))


HF_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.jsonl
- config_name: pairs
  data_files:
  - split: train
    path: pairs.jsonl
---
# Distilled with lion

`train.jsonl`: instruction, input, output (the teacher's answer), origin (seed / hard / easy),
iteration. `pairs.jsonl` (config `pairs`): judged pairs in TRL's DPO layout (prompt, chosen, rejected)
with chosen_from, teacher_score, student_score, gap, label, iteration and both referee replies.
"""


def _hf(rows: Rows, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: the hf format writes a folder, and this is a file")
    write_atomic(out / "train.jsonl", jsonl_text(rows))
    write_atomic(out / "README.md", HF_CARD)


WRITERS: dict[str, Callable[[Rows, Path], None]] = {
    "alpaca": _alpaca,
    "jsonl": lambda rows, out: write_atomic(out, jsonl_text(rows)),
    "sharegpt": _sharegpt,
    "openai": _openai,
    "parquet": _parquet,
    "hf": _hf,
}
FORMATS = tuple(WRITERS)

# The format a file name implies (the longest matching ending wins); a name with no suffix is an hf folder.
SUFFIXES = ((".sharegpt.json", "sharegpt"), (".openai.jsonl", "openai"), (".messages.jsonl", "openai"),
            (".json", "alpaca"), (".jsonl", "jsonl"), (".parquet", "parquet"))


def format_from_name(out: Path) -> str | None:
    name = out.name.lower()
    for suffix, fmt in SUFFIXES:
        if name.endswith(suffix):
            return fmt
    return "hf" if out.is_dir() or not out.suffix else None


def pairs_path(out: Path, fmt: str) -> Path:
    """Where the judged pairs go: inside an hf folder, else beside the training file."""
    if fmt == "hf":
        return out / "pairs.jsonl"
    return out.with_name(f"{out.stem}.pairs.parquet" if fmt == "parquet" else f"{out.stem}.pairs.jsonl")
