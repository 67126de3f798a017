"""The reference model's log-probabilities, computed once per pair set and reused by every epoch and
every resume of the DPO job.

They are stored in the job's folder (specs.dpo.REFERENCE_FILE, safetensors: `chosen` and `rejected`,
one value per pair in pair-file order) under a fingerprint of what decides them: the reference model's
files, the pairs file, the tokenizer, max_length and the prompt layout. A file whose fingerprint differs
is computed again; one that matches is read, so a resumed job never runs the reference model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from lion_cli.student.specs import DPOSpec

BATCH_PAIRS = 8  # pairs per reference forward pass (16 rows)


def tokenizer_identity(tokenizer: Any) -> str:
    """The vocabulary, special tokens and chat template, hashed: what turns text into the scored ids."""
    digest = hashlib.sha256(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(json.dumps([tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id]).encode())
    digest.update(str(getattr(tokenizer, "chat_template", "") or "").encode())
    return digest.hexdigest()


def fingerprint(spec: DPOSpec, tokenizer: Any) -> str:
    from lion_cli.student.scripts.checkpoint_record import model_identity

    pairs = hashlib.sha256(Path(spec.data_path).read_bytes()).hexdigest()
    parts = {"reference": model_identity(spec.reference_model), "pairs": pairs,
             "tokenizer": tokenizer_identity(tokenizer), "max_length": spec.max_length,
             "prompt_format": spec.prompt_format}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load_reference_model(spec: DPOSpec, vocab_size: int) -> Any:
    """The reference model in eval mode, its embeddings grown to the policy's vocabulary (a pad row)."""
    import torch
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(spec.reference_model, dtype=torch.float32)
    if model.get_input_embeddings().weight.shape[0] < vocab_size:
        model.resize_token_embeddings(vocab_size, mean_resizing=False)
    model.config.use_cache = False
    return model.eval()


def compute(model: Any, examples: list[dict[str, Any]], pad_id: int, device: Any) -> tuple[Any, Any]:
    """(chosen, rejected) reference log-probabilities of every pair, in order."""
    import torch

    from lion_cli.student.scripts.dpo_data import PairCollator, sequence_logps

    collate = PairCollator(pad_id)
    chosen, rejected = [], []
    model.to(device)
    with torch.no_grad():
        for start in range(0, len(examples), BATCH_PAIRS):
            part = examples[start:start + BATCH_PAIRS]
            batch = {k: v.to(device) for k, v in collate(part).items()}
            logps = sequence_logps(model, batch)
            chosen.append(logps[:len(part)].cpu())
            rejected.append(logps[len(part):].cpu())
    return torch.cat(chosen), torch.cat(rejected)


def stored(path: Path, expected: str) -> tuple[Any, Any] | None:
    """The stored values when the file's fingerprint is `expected`; None otherwise."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as fh:
            if (fh.metadata() or {}).get("fingerprint") != expected:
                return None
            return fh.get_tensor("chosen"), fh.get_tensor("rejected")
    except Exception:  # a torn or foreign file: computed again
        return None


def store(path: Path, chosen: Any, rejected: Any, print_: str) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({"chosen": chosen.contiguous(), "rejected": rejected.contiguous()}, str(tmp),
              metadata={"fingerprint": print_})
    os.replace(tmp, path)
