"""DPO data for the DPO entry script: pairs → token ids with an answer-only mask, the batch that
scores a pair's two answers in one forward pass, and the loss. torch is imported inside the functions.

A pair's prompt is laid out and tokenised once, as SFT does (prompt.prompt_ids): each answer is
prompt + answer + EOS, cut at max_length, with −100 over the prompt, so a log-probability is the sum
over the answer's tokens only. A batch of B pairs is 2B rows: the B chosen rows, then the B rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lion_cli.student.scripts.jsonl import read_jsonl
from lion_cli.student.scripts.prompt import continuation_ids, prompt_ids
from lion_cli.student.scripts.sft_data import IGNORE, DataError

PAIR_KEYS = ("prompt", "chosen", "rejected")


def load_pairs(path: Path) -> list[dict[str, str]]:
    """JSONL rows {prompt, chosen, rejected} (TRL's layout), each kept as {instruction, input, chosen,
    rejected}: a row's own `instruction`/`input` when it has them (lion's export writes both), else its
    prompt as the instruction. Errors name the file and line."""
    pairs: list[dict[str, str]] = []
    for where, row in read_jsonl(path, DataError):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object {{prompt, chosen, rejected}}")
        for key in PAIR_KEYS:
            if not isinstance(row.get(key), str):
                raise DataError(f"{where}: key '{key}' must be a string")
        own = isinstance(row.get("instruction"), str) and isinstance(row.get("input", ""), str)
        pairs.append({"instruction": row["instruction"] if own else row["prompt"],
                      "input": (row.get("input") or "") if own else "",
                      "chosen": row["chosen"], "rejected": row["rejected"]})
    if not pairs:
        raise DataError(f"{path}: no pairs")
    return pairs


def _answer_row(tokenizer: Any, prompt: list[int], answer: str, fmt: str, max_length: int) -> dict[str, list[int]]:
    ids = [*continuation_ids(tokenizer, answer, fmt), tokenizer.eos_token_id]
    return {"input_ids": (prompt + ids)[:max_length], "labels": ([IGNORE] * len(prompt) + ids)[:max_length]}


def tokenize_pair(tokenizer: Any, pair: dict[str, str], fmt: str, max_length: int) -> dict[str, Any] | None:
    """{chosen: row, rejected: row}, or None when the prompt alone fills max_length (no answer token)."""
    if tokenizer.eos_token_id is None:
        raise DataError("the tokenizer has no EOS token; an answer could never end")
    prompt = prompt_ids(tokenizer, pair, fmt)
    if len(prompt) >= max_length:
        return None
    return {"chosen": _answer_row(tokenizer, prompt, pair["chosen"], fmt, max_length),
            "rejected": _answer_row(tokenizer, prompt, pair["rejected"], fmt, max_length)}


class PairCollator:
    """B tokenised pairs → one right-padded batch of 2B rows (chosen first), their `index` in the pair
    set, and `ref_chosen`/`ref_rejected` when the dataset carries precomputed reference values."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        rows = [f["chosen"] for f in features] + [f["rejected"] for f in features]
        width = max(len(r["input_ids"]) for r in rows)
        batch: dict[str, Any] = {
            "input_ids": torch.tensor([r["input_ids"] + [self.pad_id] * (width - len(r["input_ids"])) for r in rows]),
            "labels": torch.tensor([r["labels"] + [IGNORE] * (width - len(r["labels"])) for r in rows]),
            "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"]))
                                            for r in rows]),
            "index": torch.tensor([f["index"] for f in features]),
        }
        if "ref_chosen" in features[0]:
            batch["ref_chosen"] = torch.tensor([f["ref_chosen"] for f in features], dtype=torch.float32)
            batch["ref_rejected"] = torch.tensor([f["ref_rejected"] for f in features], dtype=torch.float32)
        return batch


def sequence_logps(model: Any, batch: dict[str, Any]) -> Any:
    """Sum of the answer tokens' log-probabilities per row (the −100 positions left out)."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    labels = batch["labels"][:, 1:]
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    mask = labels != IGNORE
    picked = torch.gather(logps, 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(dim=-1)


def dpo_loss(policy_chosen: Any, policy_rejected: Any, ref_chosen: Any, ref_rejected: Any, beta: float,
             loss_type: str) -> tuple[Any, dict[str, float]]:
    """(mean loss, {rewards_chosen, rewards_rejected, margin, accuracy}) for one batch of pairs.

    The implicit reward of an answer is beta × (policy − reference) log-probability; the loss pushes the
    chosen answer's reward above the rejected one's: −log σ(beta·Δ) (sigmoid), (Δ − 1/(2·beta))² (ipo),
    max(0, 1 − beta·Δ) (hinge), where Δ is the policy's log-ratio gain over the reference's."""
    import torch
    import torch.nn.functional as F

    delta = (policy_chosen - policy_rejected) - (ref_chosen - ref_rejected)
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * delta)
    elif loss_type == "ipo":
        losses = (delta - 1 / (2 * beta)) ** 2
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * delta)
    else:
        raise ValueError(f"unknown DPO loss {loss_type!r}")
    chosen = (beta * (policy_chosen - ref_chosen)).detach()
    rejected = (beta * (policy_rejected - ref_rejected)).detach()
    stats = {"rewards_chosen": float(chosen.mean()), "rewards_rejected": float(rejected.mean()),
             "margin": float((chosen - rejected).mean()), "accuracy": float((chosen > rejected).float().mean())}
    return losses.mean(), stats
