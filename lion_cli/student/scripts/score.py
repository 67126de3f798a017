"""Option scoring entry script: `python -m lion_cli.student.scripts.score --spec score.json` (plain or
torchrun). The spec is a ScoreSpec (lion_cli/student/specs/score.py: keys, defaults, input and output rows).

For each row, the log-probability the model gives each option's text as the continuation of the
prompt: the likelihood ("loglik") mode of `lion eval`, robust for small students that do not
answer in the expected form. The log-probs are summed over the option's tokens (prompt.continuation_ids);
the caller divides by token_counts to length-normalise.
Under torchrun rank r scores rows r::world and writes `<output_path>.part-<r>`; rank 0 merges.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lion_cli.student.scripts.data_parallel import barrier, rank_device, ranked_main
from lion_cli.student.scripts.jsonl import read_jsonl, write_jsonl_atomic
from lion_cli.student.specs import ScoreSpec, SpecError


def read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    need = "prompt" if fmt == "raw" else "instruction"
    rows = []
    for where, row in read_jsonl(path):
        opts = row.get("options") if isinstance(row, dict) else None
        if (not isinstance(row, dict) or not isinstance(row.get(need), str) or not isinstance(opts, list)
                or not opts or not all(isinstance(o, str) and o for o in opts)):
            raise SpecError(f"{where}: expected {{id, {need}: str, options: [non-empty str, ...]}}")
        rows.append(row)
    return rows


def option_logprobs(model: Any, tokenizer: Any, context: list[int], options: list[list[int]],
                    batch_size: int = ScoreSpec.batch_size) -> list[tuple[float, int]]:
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
        # Only the positions that predict an option token need logits: the last `keep` of the row
        # (the context's last token onwards). The vocabulary projection and its softmax over the whole
        # prompt would otherwise be most of the cost for a long prompt and short options.
        keep = width - len(context) + 1
        with torch.no_grad():
            logits = _last_logits(model, ids.to(device), mask.to(device), keep)
        for i, opt in enumerate(chunk):
            # Kept index j is position len(context) - 1 + j, which predicts the option's token j.
            logp = torch.log_softmax(logits[i, :len(opt)].float(), dim=-1)
            target = torch.tensor(opt, device=logp.device)
            out.append((float(logp[torch.arange(len(opt), device=logp.device), target].sum()), len(opt)))
    return out


def _last_logits(model: Any, ids: Any, mask: Any, keep: int) -> Any:
    """Logits of the last `keep` positions, computed for those only where the model's forward allows."""
    import inspect

    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        return model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
    return model(input_ids=ids, attention_mask=mask).logits[:, -keep:]


def score_rows(model: Any, tokenizer: Any, rows: list[dict[str, Any]], fmt: str,
               batch_size: int = ScoreSpec.batch_size) -> list[dict[str, Any]]:
    from lion_cli.student.scripts.prompt import continuation_ids, prompt_ids

    results = []
    for row in rows:
        context = prompt_ids(tokenizer, row, fmt)
        options = [continuation_ids(tokenizer, o, fmt) for o in row["options"]]
        scored = option_logprobs(model, tokenizer, context, options, batch_size)
        results.append({"id": row["id"], "logprob_sums": [s for s, _ in scored],
                        "token_counts": [c for _, c in scored]})
    return results


def _part(out_path: Path, rank: int) -> Path:
    return out_path.with_name(f"{out_path.name}.part-{rank}")


def run(spec: ScoreSpec, rank: int, world: int) -> None:
    from lion_cli.student.scripts.batch_decode import load_model

    rows = read_rows(Path(spec.input_path), spec.prompt_format)
    out_path = Path(spec.output_path)
    mine = rows[rank::world]
    model, tokenizer = load_model(spec.model_path, spec.dtype, rank_device())
    with _part(out_path, rank).open("w", encoding="utf-8") as fh:
        for done, res in enumerate(score_rows(model, tokenizer, mine, spec.prompt_format, spec.batch_size), 1):
            fh.write(json.dumps(res) + "\n")
            if done % 50 == 0:
                print(f"[score] rank {rank}: {done}/{len(mine)} rows", file=sys.stderr, flush=True)
    barrier(world)
    if rank == 0:
        merged: dict[str, dict[str, Any]] = {}
        for r in range(world):
            for line in _part(out_path, r).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                merged[str(row["id"])] = row
            _part(out_path, r).unlink()
        write_jsonl_atomic(out_path, (merged[str(r["id"])] for r in rows))
        print(f"[score] wrote {len(rows)} rows to {out_path}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    return ranked_main("python -m lion_cli.student.scripts.score", argv, ScoreSpec, run)


if __name__ == "__main__":
    sys.exit(main())
