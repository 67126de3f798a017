"""Generation entry script: `python -m lion_cli.student.generate --spec gen.json` (plain or torchrun).

Standalone: imports torch/transformers and standalone siblings (batch_decode, formats) only.

Spec (JSON object; unknown keys are an error):
  model_path      str    HF model folder (safetensors + tokenizer)
  input_path      str    JSONL, one row per line (see below)
  output_path     str    JSONL written at the end by rank 0, rows in input order:
                         {id, text, finish_reason: "stop"|"length", prompt_tokens, completion_tokens, seed}
  prompt_format   str    "alpaca" | "chat" | "raw" | "chat_raw"           (default "alpaca")
  max_new_tokens  int    (default 256)
  temperature     float  0 = greedy                                       (default 0.7)
  top_p           float  1.0 = off                                        (default 1.0)
  top_k           int    0 = off                                          (default 0)
  batch_size      int    rows decoded together                            (default 16)
  base_seed       int    a row without its own seed gets derive_seed(base_seed, str(id))  (default 0)
  backend         str    "hf" | "vllm" (vLLM only when importable)       (default "hf")
  dtype           str    "auto" | "fp32" | "bf16" | "fp16"                (default "auto")

Input rows by prompt_format:
  alpaca / chat   {id, instruction, input?, seed?} laid out by formats.render_prompt (the Alpaca layout
                  without preamble, or the tokenizer's chat template with one user turn)
  raw             {id, prompt, seed?}      the prompt text used as-is (tokenised with the tokenizer's
                                           usual special tokens, e.g. a BOS)
  chat_raw        {id, prompt, seed?}      the prompt as one user turn through the chat template, or
                  {id, messages, seed?}    a whole OpenAI-style message list through the chat template
`id` is a string or an integer and must be unique.

Reproducibility: a row's text depends only on (model, prompt, settings, seed) — not on the batch it
shares or the number of processes (see batch_decode.py).

Data parallel: under torchrun rank r takes rows r::world. Each rank appends finished rows to
`<output_path>.parts/<settings-hash>/part-<rank>.jsonl` after every batch (flushed), so a killed run
keeps what it finished; a restart with the same settings skips rows found in ANY part file (also
after a change of world size). Different settings hash to a different folder and never mix. Rank 0
waits for all ranks, then writes output_path atomically. Progress lines are
appended to `<output_path>.progress.jsonl`: {"event": "start", rank, shard, already} once per rank, then
{"event": "batch", rank, rows, done, new_tokens} per batch (done = rows finished by this rank this run).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

FORMATS = ("alpaca", "chat", "raw", "chat_raw")
DEFAULTS: dict[str, Any] = {
    "prompt_format": "alpaca", "max_new_tokens": 256, "temperature": 0.7, "top_p": 1.0, "top_k": 0,
    "batch_size": 16, "base_seed": 0, "backend": "hf", "dtype": "auto",
}
REQUIRED = ("model_path", "input_path", "output_path")
# Settings that change an answer: rows generated under other values are never reused.
_ANSWER_KEYS = ("model_path", "prompt_format", "max_new_tokens", "temperature", "top_p", "top_k",
                "base_seed", "backend", "dtype")


class SpecError(ValueError):
    """Bad spec or input file; the message names the file, line/key and what was expected."""


def load_spec(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the spec as JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a JSON object")
    unknown = set(raw) - set(DEFAULTS) - set(REQUIRED)
    if unknown:
        raise SpecError(f"{path}: unknown key(s) {sorted(unknown)}; expected {sorted([*REQUIRED, *DEFAULTS])}")
    spec = {**DEFAULTS, **raw}
    for key in REQUIRED:
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise SpecError(f"{path}: key {key!r}: expected a non-empty path string")
    checks = {
        "prompt_format": lambda v: v in FORMATS, "backend": lambda v: v in ("hf", "vllm"),
        "max_new_tokens": lambda v: isinstance(v, int) and v > 0, "batch_size": lambda v: isinstance(v, int) and v > 0,
        "temperature": lambda v: isinstance(v, int | float) and v >= 0,
        "top_p": lambda v: isinstance(v, int | float) and 0 < v <= 1,
        "top_k": lambda v: isinstance(v, int) and v >= 0, "base_seed": lambda v: isinstance(v, int),
        "dtype": lambda v: v in ("auto", "fp32", "bf16", "fp16"),
    }
    for key, ok in checks.items():
        if not ok(spec[key]):
            raise SpecError(f"{path}: key {key!r}: invalid value {spec[key]!r}")
    return spec


def read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    need = ("instruction",) if fmt in ("alpaca", "chat") else ("prompt",)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SpecError(f"{where}: not valid JSON: {exc}") from None
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


def render(tokenizer: Any, row: dict[str, Any], fmt: str) -> list[int]:
    """Token ids of a row's prompt. Chat-templated text already holds its special tokens."""
    if fmt in ("alpaca", "chat"):
        from lion_cli.student.formats import adds_special_tokens, render_prompt

        text = render_prompt(tokenizer, row["instruction"], row.get("input") or "", fmt)
        return list(tokenizer(text, add_special_tokens=adds_special_tokens(fmt)).input_ids)
    if fmt == "raw":
        return list(tokenizer(row["prompt"]).input_ids)
    messages = row.get("messages") or [{"role": "user", "content": row["prompt"]}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def settings_hash(spec: dict[str, Any]) -> str:
    blob = json.dumps({k: spec[k] for k in _ANSWER_KEYS}, sort_keys=True)
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


def open_part(path: Path):  # -> TextIO, positioned after the last complete line
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


def run(spec: dict[str, Any], rank: int, world: int) -> None:
    rows = read_rows(Path(spec["input_path"]), spec["prompt_format"])
    out_path = Path(spec["output_path"])
    parts_dir = out_path.with_name(out_path.name + ".parts") / settings_hash(spec)
    parts_dir.mkdir(parents=True, exist_ok=True)
    done = read_part_rows(parts_dir)
    # Shard by position in the input, not by what is done: every rank computes the same split
    # whatever the other ranks have written meanwhile.
    todo = [row for i, row in enumerate(rows) if i % world == rank and str(row["id"]) not in done]
    shard = sum(1 for i in range(len(rows)) if i % world == rank)
    _log(f"rank {rank}/{world}: {len(todo)} rows to generate, {shard - len(todo)} of its {shard} already done")
    progress = out_path.with_name(out_path.name + ".progress.jsonl")
    with progress.open("a", encoding="utf-8") as prog:
        prog.write(json.dumps({"event": "start", "rank": rank, "shard": shard, "already": shard - len(todo)}) + "\n")
    if todo:
        if spec["backend"] == "vllm":
            from lion_cli.student.vllm_backend import generate_rows
        else:
            generate_rows = _hf_generate_rows
        with open_part(parts_dir / f"part-{rank}.jsonl") as part, progress.open("a", encoding="utf-8") as prog:
            count = 0
            for finished in generate_rows(spec, todo):
                for row in finished:
                    part.write(json.dumps(row, ensure_ascii=False) + "\n")
                part.flush()
                count += len(finished)
                prog.write(json.dumps({"event": "batch", "rank": rank, "rows": len(finished), "done": count,
                                       "new_tokens": sum(r["completion_tokens"] for r in finished)}) + "\n")
                prog.flush()
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    if rank == 0:
        merged = read_part_rows(parts_dir)
        missing = [row["id"] for row in rows if str(row["id"]) not in merged]
        if missing:
            raise RuntimeError(f"{len(missing)} rows missing after generation, e.g. {missing[:5]}")
        tmp = out_path.with_name(out_path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(merged[str(row["id"])], ensure_ascii=False) + "\n")
        os.replace(tmp, out_path)
        _log(f"wrote {len(rows)} rows to {out_path}")


def _hf_generate_rows(spec: dict[str, Any], todo: list[dict[str, Any]]):  # -> Iterator[list[dict]]
    """Yield finished output rows batch by batch (longest prompts first: memory trouble shows early)."""
    from lion_cli.student.batch_decode import Sampling, derive_seed, generate_batch, load_model

    device = None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    import torch

    if torch.cuda.is_available():
        device = f"cuda:{local_rank % torch.cuda.device_count()}"
    model, tokenizer = load_model(spec["model_path"], spec["dtype"], device)
    sampling = Sampling(spec["max_new_tokens"], float(spec["temperature"]), float(spec["top_p"]), spec["top_k"])
    prepared = [(render(tokenizer, row, spec["prompt_format"]), row) for row in todo]
    prepared.sort(key=lambda item: -len(item[0]))
    size = spec["batch_size"]
    for start in range(0, len(prepared), size):
        chunk = prepared[start:start + size]
        seeds = [row.get("seed", derive_seed(spec["base_seed"], str(row["id"]))) for _, row in chunk]
        t0 = time.perf_counter()
        outs = generate_batch(model, tokenizer, [ids for ids, _ in chunk], seeds, sampling)
        new = sum(o.completion_tokens for o in outs)
        _log(f"batch of {len(chunk)}: {new} new tokens in {time.perf_counter() - t0:.2f} s")
        yield [{"id": row["id"], "text": o.text, "finish_reason": o.finish_reason, "prompt_tokens": o.prompt_tokens,
                "completion_tokens": o.completion_tokens, "seed": seed}
               for (_, row), o, seed in zip(chunk, outs, seeds, strict=True)]


def main(argv: list[str] | None = None) -> int:
    from lion_cli.student.ranked_main import ranked_main

    return ranked_main("python -m lion_cli.student.generate", argv, load_spec, run, SpecError)


if __name__ == "__main__":
    sys.exit(main())
