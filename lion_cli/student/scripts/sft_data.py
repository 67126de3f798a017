"""SFT data for the training entry script: rows → token ids with an answer-only loss mask, packing,
batch collation, and the pad token a tokenizer may lack. torch is imported inside the functions.

Loss mask: the prompt and the answer are tokenised separately (prompt.prompt_ids and
prompt.continuation_ids), so the boundary between them is exact (tokenising the joined text could
merge the last prompt bytes with the first answer bytes). The answer gets the tokenizer's EOS
appended, so the student learns to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lion_cli.student.scripts.jsonl import read_jsonl
from lion_cli.student.scripts.prompt import continuation_ids, prompt_ids
from lion_cli.student.specs import SpecError

IGNORE = -100  # label value the loss skips
PAD_TOKEN = "<|pad|>"


class DataError(SpecError):
    """A training file problem, naming the file and line."""


def load_rows(path: Path) -> list[dict[str, str]]:
    """JSONL rows {instruction, input?, output}; errors name the file and line."""
    rows: list[dict[str, str]] = []
    for where, row in read_jsonl(path, DataError):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object {{instruction, input, output}}")
        for key in ("instruction", "output"):
            if not isinstance(row.get(key), str):
                raise DataError(f"{where}: key '{key}' must be a string")
        if not isinstance(row.get("input", ""), str):
            raise DataError(f"{where}: key 'input' must be a string when present")
        rows.append({"instruction": row["instruction"], "input": row.get("input") or "", "output": row["output"]})
    if not rows:
        raise DataError(f"{path}: no training rows")
    return rows


def tokenize_example(tokenizer: Any, row: dict[str, str], fmt: str, max_length: int) -> dict[str, list[int]]:
    """input_ids and labels (−100 on every prompt token), answer + EOS, cut at max_length tokens."""
    prompt = prompt_ids(tokenizer, row, fmt)
    answer = continuation_ids(tokenizer, row["output"], fmt)
    if tokenizer.eos_token_id is None:
        raise DataError("the tokenizer has no EOS token; the student could never learn to stop")
    answer.append(tokenizer.eos_token_id)
    input_ids = (prompt + answer)[:max_length]
    labels = ([IGNORE] * len(prompt) + answer)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


def has_answer(example: dict[str, list[int]]) -> bool:
    """False when truncation left no answer token (the prompt alone filled max_length)."""
    return any(t != IGNORE for t in example["labels"])


def pack_examples(examples: Sequence[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """First-fit-decreasing bins of ≤ max_length tokens. Each packed row carries position_ids that
    restart at 0 per example: the model derives the block-diagonal attention mask from them."""
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]["input_ids"]))
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(examples[i]["input_ids"])
        for b, free in enumerate(room):
            if n <= free:
                bins[b].append(i)
                room[b] -= n
                break
        else:
            bins.append([i])
            room.append(max_length - n)
    packed = []
    for members in bins:
        row: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
        for i in members:
            ex = examples[i]
            row["input_ids"] += ex["input_ids"]
            row["labels"] += ex["labels"]
            row["position_ids"] += list(range(len(ex["input_ids"])))
        packed.append(row)
    return packed


class SFTCollator:
    """Pads a list of examples (packed or not) to the longest in the batch.

    Unpacked: right padding + a 2-D attention mask. Packed: no attention mask at all (transformers
    then builds the block-diagonal mask from position_ids); the pad tail gets positions restarting at
    0, so it is a separate block that no real token attends to, and labels −100.
    """

    def __init__(self, pad_id: int, packed: bool) -> None:
        self.pad_id = pad_id
        self.packed = packed

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
        batch["position_ids" if self.packed else "attention_mask"] = []
        for f in features:
            n = len(f["input_ids"])
            pad = width - n
            batch["input_ids"].append(f["input_ids"] + [self.pad_id] * pad)
            batch["labels"].append(f["labels"] + [IGNORE] * pad)
            if self.packed:
                batch["position_ids"].append(f["position_ids"] + list(range(pad)))
            else:
                batch["attention_mask"].append([1] * n + [0] * pad)
        return {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}


def training_forward_mode(model: Any) -> None:
    """Switch the KV cache off for training. Why it matters: with the cache on (the config default),
    transformers builds the attention mask as for decoding and ignores what position_ids say about
    packed examples, so packed examples WOULD attend to each other. No cache is needed in training."""
    model.config.use_cache = False


def padding_share(batches: Sequence[dict[str, Any]], pad_id: int) -> float:
    """Share of batch positions that are padding (for the packing benchmark and logs)."""
    total = sum(int(b["input_ids"].numel()) for b in batches)
    pads = sum(int((b["labels"] == IGNORE).logical_and(b["input_ids"] == pad_id).sum()) for b in batches)
    return pads / total if total else 0.0


def zero3_gather() -> Any:
    """deepspeed.zero.GatheredParameters while the Trainer's DeepSpeed config says ZeRO-3 (a model loaded
    then is partitioned); None otherwise."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    if not is_deepspeed_zero3_enabled():
        return None
    import deepspeed

    return deepspeed.zero.GatheredParameters


def ensure_pad_token(tokenizer: Any, model: Any, gather: Any = None) -> bool:
    """Add a pad token when the tokenizer has none; the new embedding row(s) = mean of the old rows.

    Why the mean: a random row can have a large norm and skew the output softmax; the mean keeps the
    new token's logit in the range of the others. `gather` is a context-manager factory for ZeRO-3
    partitioned weights (deepspeed.zero.GatheredParameters); None otherwise. Returns True if added.
    """
    import contextlib

    import torch

    if tokenizer.pad_token is not None:
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        return False
    # Under ZeRO-3 a parameter outside a gather is an empty shard; ds_shape holds its real shape.
    emb = model.get_input_embeddings().weight
    old = int(getattr(emb, "ds_shape", emb.shape)[0])
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    layers = [model.get_input_embeddings()]
    out = model.get_output_embeddings()
    if out is not None and out.weight is not layers[0].weight:
        layers.append(out)
    for layer in layers:
        ctx = gather([layer.weight], modifier_rank=0) if gather else contextlib.nullcontext()
        with ctx, torch.no_grad():
            w = layer.weight
            if w.shape[0] > old:
                w[old:] = w[:old].mean(dim=0, keepdim=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return True
