"""`lion export recover` on the official Lion weight-diff format: a diff made the way the official
code makes it (raw given a [PAD] token first, tuned − raw saved as a full model folder) recovers the
tuned model, recognised by itself, and `lion eval` runs on the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from lion_cli.export.weight_diff import is_official_diff

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def _with_pad(model: Any, tokenizer: Any) -> None:
    """What the official fine-tuning did to a tokenizer without a pad token, written here again."""
    tokenizer.add_special_tokens({"pad_token": "[PAD]"})
    model.resize_token_embeddings(len(tokenizer))
    for weights in (model.get_input_embeddings().weight.data, model.get_output_embeddings().weight.data):
        weights[-1:] = weights[:-1].mean(dim=0, keepdim=True)


def _load(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32), AutoTokenizer.from_pretrained(
        str(folder))


def _tuned(raw: Path, out: Path) -> Path:
    """A "fine-tune" of raw: [PAD] added, then every weight moved by seeded noise."""
    model, tokenizer = _load(raw)
    _with_pad(model, tokenizer)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=gen))
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def _official_diff(raw: Path, tuned: Path, out: Path) -> Path:
    """The official make_diff: raw given [PAD] when it has none, then tuned − raw per tensor, saved
    as a model folder with the tuned tokenizer."""
    tuned_model, tuned_tokenizer = _load(tuned)
    raw_model, raw_tokenizer = _load(raw)
    if raw_tokenizer.pad_token is None:
        _with_pad(raw_model, raw_tokenizer)
    raw_state = raw_model.state_dict()
    with torch.no_grad():
        for name, tensor in tuned_model.state_dict().items():
            tensor.add_(-raw_state[name])
    tuned_model.save_pretrained(str(out))
    tuned_tokenizer.save_pretrained(str(out))
    return out


def test_official_diff_round_trip_then_eval(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    tuned = _tuned(tiny_model_dir, tmp_path / "tuned")
    diff = _official_diff(tiny_model_dir, tuned, tmp_path / "diff")
    assert is_official_diff(diff) and not is_official_diff(tmp_path)
    res = lion_cli("export", "recover", "--base", str(tiny_model_dir), "--delta", str(diff),
                   "--out", str(tmp_path / "recovered"), "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["format"] == "official weight diff" and summary["base_given_pad_token"] is True
    got, got_tokenizer = _load(tmp_path / "recovered")
    want, _ = _load(tuned)
    assert got_tokenizer.pad_token == "[PAD]"
    want_state = want.state_dict()
    for name, tensor in got.state_dict().items():
        assert torch.allclose(tensor, want_state[name], atol=1e-6), name
    # A base of another shape than the one the diff was made against: named, nothing written. (The
    # format carries no hashes: a base of the same shape cannot be told from the right one.)
    other, other_tokenizer = _load(tuned)
    other_tokenizer.add_special_tokens({"additional_special_tokens": ["<extra>"]})
    other.resize_token_embeddings(len(other_tokenizer))
    other.save_pretrained(str(tmp_path / "other"))
    other_tokenizer.save_pretrained(str(tmp_path / "other"))
    wrong = lion_cli("export", "recover", "--base", str(tmp_path / "other"), "--delta", str(diff),
                     "--out", str(tmp_path / "w"))
    assert wrong.exit_code == 2 and "wrong base model" in wrong.stderr and not (tmp_path / "w").exists()
    evaluated = lion_cli("eval", "bbh", "--model", str(tmp_path / "recovered"), "--prompt-format", "alpaca",
                         "--tasks", "navigate", "--limit", "2", "--max-new-tokens", "4", "--data-dir", str(DATA),
                         "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["results"][0]["n"] == 2
