"""Generation entry script: `python -m lion_cli.student.scripts.generate --spec gen.json` (plain or
torchrun). The spec is a GenSpec (lion_cli/student/specs/generate.py: keys, defaults, input and output rows).

Reproducibility: a row's text depends only on (model, prompt, settings, seed), not on the batch it
shares or the number of processes (see batch_decode.py).

Data parallel: under torchrun rank r takes rows r::world. Each rank appends finished rows to
`<output_path>.parts/<settings-hash>/part-<rank>.jsonl` after every batch (flushed), so a killed run
keeps what it finished; a restart with the same settings skips rows found in ANY part file (also
after a change of world size). Different settings hash to a different folder and never mix. Rank 0
waits for all ranks, then writes output_path atomically. Progress lines go to GenSpec.progress_path.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lion_cli.student.scripts.data_parallel import barrier, rank_device, ranked_main
from lion_cli.student.scripts.jsonl import read_jsonl, write_jsonl_atomic
from lion_cli.student.specs import PROMPT_FORMATS, GenSpec, SpecError

# Settings that change an answer: rows generated under other values are never reused.
_ANSWER_KEYS = ("model_path", "prompt_format", "max_new_tokens", "temperature", "top_p", "top_k",
                "base_seed", "backend", "dtype")


def read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    need = ("instruction",) if fmt in PROMPT_FORMATS else ("prompt",)
    for where, row in read_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str | int):
            raise SpecError(f"{where}: expected an object with an 'id' (string or integer)")
        has_messages = fmt == "chat_raw" and isinstance(row.get("messages"), list)
        if not has_messages and not all(isinstance(row.get(k), str) for k in need):
            raise SpecError(f"{where}: prompt_format {fmt!r} needs key(s) {list(need)} (strings)")
        if "seed" in row and not isinstance(row["seed"], int):
            raise SpecError(f"{where}: key 'seed': expected an integer")
        if str(row["id"]) in seen:
            raise SpecError(f"{where}: duplicate id {row['id']!r}")
        seen.add(str(row["id"]))
        rows.append(row)
    return rows


def settings_hash(spec: GenSpec) -> str:
    keys = {k: getattr(spec, k) for k in _ANSWER_KEYS}
    if spec.stop:  # only when set: runs without stop strings keep the folders they had
        keys["stop"] = spec.stop
    blob = json.dumps(keys, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_part_rows(parts_dir: Path) -> dict[str, dict[str, Any]]:
    """Rows already finished, from every part file (a torn last line from a kill is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    for part in sorted(parts_dir.glob("part-*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            done.setdefault(str(row["id"]), row)
    return done


def open_part(path: Path) -> IO[str]:
    """Open a rank's part file for appending, first cutting a line torn by a kill."""
    if path.exists():
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            with path.open("r+b") as fh:
                fh.truncate(keep)
    return path.open("a", encoding="utf-8")


def _log(msg: str) -> None:
    print(f"[generate] {msg}", file=sys.stderr, flush=True)


def _progress(spec: GenSpec, line: dict[str, Any]) -> None:
    with spec.progress_path.open("a", encoding="utf-8") as prog:
        prog.write(json.dumps(line) + "\n")


def _generate_shard(spec: GenSpec, todo: list[dict[str, Any]], part_path: Path, rank: int) -> None:
    """Decode this rank's rows, appending each finished batch to its part file and a progress line."""
    if spec.backend == "vllm":
        from lion_cli.student.scripts.vllm_backend import generate_rows
    else:
        generate_rows = _hf_generate_rows
    count = 0
    with open_part(part_path) as part:
        for finished in generate_rows(spec, todo):
            for row in finished:
                part.write(json.dumps(row, ensure_ascii=False) + "\n")
            part.flush()
            count += len(finished)
            _progress(spec, {"event": "batch", "rank": rank, "rows": len(finished), "done": count,
                             "new_tokens": sum(r["completion_tokens"] for r in finished)})


def run(spec: GenSpec, rank: int, world: int) -> None:
    rows = read_rows(Path(spec.input_path), spec.prompt_format)
    parts_dir = spec.parts_dir / settings_hash(spec)
    parts_dir.mkdir(parents=True, exist_ok=True)
    done = read_part_rows(parts_dir)
    # Shard by position in the input, not by what is done: every rank computes the same split
    # whatever the other ranks have written meanwhile.
    todo = [row for i, row in enumerate(rows) if i % world == rank and str(row["id"]) not in done]
    shard = sum(1 for i in range(len(rows)) if i % world == rank)
    _log(f"rank {rank}/{world}: {len(todo)} rows to generate, {shard - len(todo)} of its {shard} already done")
    _progress(spec, {"event": "start", "rank": rank, "shard": shard, "already": shard - len(todo)})
    if todo:
        _generate_shard(spec, todo, parts_dir / f"part-{rank}.jsonl", rank)
    barrier(world)
    if rank == 0:
        merged = read_part_rows(parts_dir)
        missing = [row["id"] for row in rows if str(row["id"]) not in merged]
        if missing:
            raise RuntimeError(f"{len(missing)} rows missing after generation, e.g. {missing[:5]}")
        write_jsonl_atomic(Path(spec.output_path), (merged[str(row["id"])] for row in rows))
        _log(f"wrote {len(rows)} rows to {spec.output_path}")


def _hf_generate_rows(spec: GenSpec, todo: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Yield finished output rows batch by batch (longest prompts first: memory trouble shows early)."""
    from lion_cli.student.scripts.batch_decode import Sampling, answer_row, generate_batch, load_model, row_seed
    from lion_cli.student.scripts.prompt import prompt_ids

    model, tokenizer = load_model(spec.model_path, spec.dtype, rank_device())
    sampling = Sampling(spec.max_new_tokens, spec.temperature, spec.top_p, spec.top_k)
    prepared = [(prompt_ids(tokenizer, row, spec.prompt_format), row) for row in todo]
    prepared.sort(key=lambda item: -len(item[0]))
    for start in range(0, len(prepared), spec.batch_size):
        chunk = prepared[start:start + spec.batch_size]
        seeds = [row_seed(spec.base_seed, row) for _, row in chunk]
        t0 = time.perf_counter()
        outs = generate_batch(model, tokenizer, [ids for ids, _ in chunk], seeds, sampling, stop_strings=spec.stop)
        new = sum(o.completion_tokens for o in outs)
        _log(f"batch of {len(chunk)}: {new} new tokens in {time.perf_counter() - t0:.2f} s")
        yield [answer_row(row, o, seed) for (_, row), o, seed in zip(chunk, outs, seeds, strict=True)]


def main(argv: list[str] | None = None) -> int:
    return ranked_main("python -m lion_cli.student.scripts.generate", argv, GenSpec, run)


if __name__ == "__main__":
    sys.exit(main())
