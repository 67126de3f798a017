"""The official Lion (and Alpaca) weight-diff format: how the released Lion weights are published.

Such a diff is a complete Hugging Face model folder (config, tokenizer, weights) whose every tensor is
tuned − raw, where "raw" is the base model after the fine-tuning's one change to it: when its
tokenizer has no pad token, a "[PAD]" token is added and the embedding matrices (input and output)
grow by one row, set to the mean of the existing rows. Recovering is the reverse: make that same
change to the base, then add it to the diff tensor by tensor. The folder has no lion manifest
(manifest.json), which is how `lion export recover` tells the two formats apart; with nothing to
check hashes against, the shapes are checked (a wrong base shows there first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lion_cli.export.delta import MANIFEST
from lion_cli.export.recover import new_output_folder
from lion_cli.export.tensors import ExportError

PAD_TOKEN = "[PAD]"


def is_official_diff(folder: Path) -> bool:
    """A model folder without lion's delta manifest: weights and a config, nothing of lion's."""
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))
    return (folder / "config.json").is_file() and has_weights and not (folder / MANIFEST).exists()


def add_pad_token(model: Any, tokenizer: Any) -> bool:
    """The fine-tuning's change to a base without a pad token ([PAD], mean-initialised rows); whether
    it was needed."""
    if tokenizer.pad_token is not None:
        return False
    added = tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    model.resize_token_embeddings(len(tokenizer))
    if added:
        for matrix in (model.get_input_embeddings().weight.data, model.get_output_embeddings().weight.data):
            matrix[-added:] = matrix[:-added].mean(dim=0, keepdim=True)
    return True


def _load(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{folder}: cannot load as a Hugging Face model ({exc})") from None
    return model, tokenizer


def recover_official(base_dir: Path, diff_dir: Path, out_dir: Path) -> dict[str, Any]:
    """tuned = (base, given [PAD] when it has no pad token) + diff, saved into out_dir with the diff's
    tokenizer and config; the sums are taken in fp32 and saved in the diff's own dtype."""
    import torch

    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir}: exists and is not empty; choose a new --out folder")
    raw, raw_tokenizer = _load(base_dir)
    padded = add_pad_token(raw, raw_tokenizer)
    diff, diff_tokenizer = _load(diff_dir)
    raw_state, diff_state = raw.state_dict(), diff.state_dict()
    with torch.no_grad():
        for name, tensor in diff_state.items():
            if name not in raw_state:
                raise ExportError(f"{base_dir}: the base model lacks tensor {name!r}: wrong base model")
            if raw_state[name].shape != tensor.shape:
                raise ExportError(f"{base_dir}: tensor {name!r} is {list(raw_state[name].shape)}, the diff's is "
                                  f"{list(tensor.shape)}: wrong base model")
            tensor.add_(raw_state[name])
    saved_dtype = getattr(diff.config, "dtype", None) or getattr(diff.config, "torch_dtype", None) or torch.float32
    with new_output_folder(out_dir) as tmp:
        diff.to(saved_dtype).save_pretrained(str(tmp))
        diff_tokenizer.save_pretrained(str(tmp))
    return {"out": str(out_dir), "format": "official weight diff", "tensors": len(diff_state),
            "base_given_pad_token": padded, "dtype": str(saved_dtype)}
