"""Option scoring entry script: `python -m lion_cli.student.score --spec score.json` (plain or torchrun).

For each row, the log-probability the model gives each option's text as the continuation of the
prompt: the likelihood ("loglik") mode of `lion eval`, robust for small students that do not
answer in the expected form. Standalone: imports torch/transformers and the standalone sibling
generate.py (for the prompt layouts) only.

Spec (JSON object; unknown keys are an error):
  model_path     str   HF model folder
  input_path     str   JSONL rows {id, instruction, options: [str]} (alpaca / chat) or {id, prompt, options} (raw)
  output_path    str   JSONL written by rank 0, rows in input order:
                       {id, logprob_sums: [float], token_counts: [int]}, one entry per option
  prompt_format  str   "alpaca" | "chat" | "raw"                           (default "chat")
  batch_size     int   (prompt, option) sequences per forward pass         (default 16)
  dtype          str   "auto" | "fp32" | "bf16" | "fp16"                   (default "auto")

The continuation is the option text right after the rendered prompt (alpaca and chat prompts end
where the answer starts); with "raw" it is " " + text, as a word following the prompt. The log-probs
are summed over the option's tokens; the caller divides by token_counts to length-normalise.
Under torchrun rank r scores rows r::world and writes `<output_path>.part-<r>`; rank 0 merges.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {"prompt_format": "chat", "batch_size": 16, "dtype": "auto"}
REQUIRED = ("model_path", "input_path", "output_path")


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
    if spec["prompt_format"] not in ("alpaca", "chat", "raw"):
        raise SpecError(f"{path}: key 'prompt_format': expected alpaca|chat|raw, got {spec['prompt_format']!r}")
    if not isinstance(spec["batch_size"], int) or spec["batch_size"] < 1:
        raise SpecError(f"{path}: key 'batch_size': expected a positive integer")
    return spec


def read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    need = "prompt" if fmt == "raw" else "instruction"
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}:{n}: not valid JSON: {exc.msg}") from None
        opts = row.get("options") if isinstance(row, dict) else None
        if (not isinstance(row, dict) or not isinstance(row.get(need), str) or not isinstance(opts, list)
                or not opts or not all(isinstance(o, str) and o for o in opts)):
            raise SpecError(f"{path}:{n}: expected {{id, {need}: str, options: [non-empty str, ...]}}")
        rows.append(row)
    return rows


def option_logprobs(model: Any, tokenizer: Any, context: list[int], options: list[list[int]],
                    batch_size: int = 16) -> list[tuple[float, int]]:
    """(sum of log-probs, token count) of each option's tokens following `context` (token ids)."""
    import torch

    out: list[tuple[float, int]] = []
    device = next(model.parameters()).device
    for start in range(0, len(options), batch_size):
        chunk = options[start:start + batch_size]
        seqs = [context + opt for opt in chunk]
        width = max(len(s) for s in seqs)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):  # right padding: positions of real tokens stay 0..len-1
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logp = torch.log_softmax(logits, dim=-1)
        for i, opt in enumerate(chunk):
            # The token at position p is predicted by the logits at p - 1.
            pos = torch.arange(len(context) - 1, len(context) + len(opt) - 1, device=logp.device)
            target = torch.tensor(opt, device=logp.device)
            out.append((float(logp[i, pos, target].sum()), len(opt)))
    return out


def score_rows(model: Any, tokenizer: Any, rows: list[dict[str, Any]], fmt: str,
               batch_size: int = 16) -> list[dict[str, Any]]:
    from lion_cli.student.generate import render

    results = []
    for row in rows:
        context = render(tokenizer, row, fmt)
        lead = " " if fmt == "raw" else ""
        options = [list(tokenizer(lead + o, add_special_tokens=False).input_ids) for o in row["options"]]
        scored = option_logprobs(model, tokenizer, context, options, batch_size)
        results.append({"id": row["id"], "logprob_sums": [s for s, _ in scored],
                        "token_counts": [c for _, c in scored]})
    return results


def run(spec: dict[str, Any], rank: int, world: int) -> None:
    from lion_cli.student.batch_decode import load_model

    rows = read_rows(Path(spec["input_path"]), spec["prompt_format"])
    out_path = Path(spec["output_path"])
    mine = rows[rank::world]
    device = None
    import torch

    if torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
    model, tokenizer = load_model(spec["model_path"], spec["dtype"], device)
    part = out_path.with_name(f"{out_path.name}.part-{rank}")
    with part.open("w", encoding="utf-8") as fh:
        for done, res in enumerate(score_rows(model, tokenizer, mine, spec["prompt_format"], spec["batch_size"]), 1):
            fh.write(json.dumps(res) + "\n")
            if done % 50 == 0:
                print(f"[score] rank {rank}: {done}/{len(mine)} rows", file=sys.stderr, flush=True)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    if rank == 0:
        merged: dict[str, dict[str, Any]] = {}
        for r in range(world):
            p = out_path.with_name(f"{out_path.name}.part-{r}")
            for line in p.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                merged[str(row["id"])] = row
            p.unlink()
        tmp = out_path.with_name(out_path.name + ".tmp")
        tmp.write_text("".join(json.dumps(merged[str(r["id"])]) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, out_path)
        print(f"[score] wrote {len(rows)} rows to {out_path}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    from lion_cli.student.ranked_main import ranked_main

    return ranked_main("python -m lion_cli.student.score", argv, load_spec, run, SpecError)


if __name__ == "__main__":
    sys.exit(main())
