"""SFT data for the training script: loss mask, packing without cross-example attention, pad token,
collation, batch arithmetic. In-process with the tiny model (no subprocesses)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from lion_cli.student.scripts.prompt import render_prompt
from lion_cli.student.scripts.sft_data import (
    IGNORE,
    DataError,
    SFTCollator,
    ensure_pad_token,
    has_answer,
    load_rows,
    pack_examples,
    padding_share,
    tokenize_example,
)
from lion_cli.student.specs import BatchSizeError, grad_accum_steps

ROWS = [
    {"instruction": "Name three primary colours.", "input": "", "output": "Red, yellow and blue."},
    {"instruction": "Summarise the text.", "input": "Bees make honey from nectar they collect.",
     "output": "Bees turn nectar into honey."},
    {"instruction": "Translate to French: good morning", "input": "", "output": "Bonjour"},
]


@pytest.fixture(scope="module")
def tok(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _prompt_len(tok, ids: list[int], prompt: str) -> int:  # type: ignore[no-untyped-def]
    """The boundary found independently of tokenize_example: the shortest id prefix that decodes to
    the whole prompt text."""
    for k in range(len(ids) + 1):
        if tok.decode(ids[:k], skip_special_tokens=False) == prompt:
            return k
    raise AssertionError(f"no prefix of the ids decodes to the prompt {prompt!r}")


@pytest.mark.parametrize("fmt", ["alpaca", "chat"])
def test_loss_mask_covers_exactly_the_prompt_tokens(tok, fmt: str) -> None:  # type: ignore[no-untyped-def]
    for row in ROWS:
        ex = tokenize_example(tok, row, fmt, max_length=512)
        ids, labels = ex["input_ids"], ex["labels"]
        prompt = render_prompt(tok, row["instruction"], row["input"], fmt)
        n = _prompt_len(tok, ids, prompt)
        assert n > 0 and len(ids) == len(labels)
        for i, (t, lab) in enumerate(zip(ids, labels, strict=True)):
            if i < n:
                assert lab == IGNORE, f"{fmt}: prompt token {i} ({tok.decode([t])!r}) is not masked"
            else:
                assert lab == t, f"{fmt}: answer token {i} ({tok.decode([t])!r}) is masked or altered"
        # The answer part is the teacher's answer followed by EOS, nothing else.
        assert ids[-1] == tok.eos_token_id
        assert tok.decode(ids[n:-1], skip_special_tokens=False) == row["output"]
    if fmt == "alpaca":
        assert "### Input:\nBees make honey" in render_prompt(tok, ROWS[1]["instruction"], ROWS[1]["input"], fmt)
        assert "### Input:" not in render_prompt(tok, ROWS[0]["instruction"], "", fmt)
    else:
        assert render_prompt(tok, ROWS[0]["instruction"], "", fmt).endswith("<|assistant|>\n")


def test_truncation_keeps_the_mask_and_drops_answerless_examples(tok) -> None:  # type: ignore[no-untyped-def]
    row = {"instruction": "Explain " + "very " * 40 + "briefly.", "input": "", "output": "It is long. " * 30}
    full = tokenize_example(tok, row, "alpaca", max_length=4096)
    n_prompt = full["labels"].count(IGNORE)
    cut = tokenize_example(tok, row, "alpaca", max_length=n_prompt + 3)
    assert len(cut["input_ids"]) == n_prompt + 3 and cut["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert cut["labels"][n_prompt:] == full["input_ids"][n_prompt:n_prompt + 3]
    assert has_answer(cut)
    assert not has_answer(tokenize_example(tok, row, "alpaca", max_length=n_prompt - 1))


def test_pad_token_is_added_with_the_mean_embedding(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    old = model.get_input_embeddings().weight.detach().clone()
    assert tok.pad_token is None
    assert ensure_pad_token(tok, model) is True
    new = model.get_input_embeddings().weight.detach()
    assert tok.pad_token_id == old.shape[0] == new.shape[0] - 1 == len(tok) - 1
    assert torch.equal(new[:-1], old)  # existing rows untouched
    assert torch.allclose(new[-1], old.mean(dim=0), atol=1e-6)
    assert torch.equal(model.get_output_embeddings().weight.detach()[-1], new[-1])  # tied head follows
    assert model.config.pad_token_id == tok.pad_token_id
    # A tokenizer that has a pad token is left alone.
    assert ensure_pad_token(tok, model) is False and len(tok) == new.shape[0]


def test_packing_has_no_cross_example_attention(tiny_model_dir: Path, tok) -> None:  # type: ignore[no-untyped-def]
    """Logits of each example inside packed rows (the collator's batch, the model in the training
    script's forward mode) equal its logits run alone. The same batch through the model with its KV
    cache on (transformers' default) leaks attention across examples: that run must differ, which
    proves the comparison would catch a leak."""
    import torch
    from transformers import AutoModelForCausalLM

    from lion_cli.student.scripts.sft_data import training_forward_mode

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.train()  # as in training; dropout is 0 in the tiny config, so outputs are deterministic
    examples = [tokenize_example(tok, r, fmt, 256) for fmt in ("alpaca", "chat") for r in ROWS]
    width = max(len(e["input_ids"]) for e in examples) * 2 + 5
    packed = pack_examples(examples, width)
    assert len(packed) < len(examples)  # it did pack
    assert sorted(t for p in packed for t in p["input_ids"]) == sorted(t for e in examples for t in e["input_ids"])
    batch = SFTCollator(pad_id=0, packed=True)(packed)
    assert "attention_mask" not in batch
    with torch.no_grad():
        leaky = model(**batch).logits  # cache on: the trap training_forward_mode avoids
        training_forward_mode(model)
        logits = model(**batch).logits
    seen = leaks = 0
    for r, row in enumerate(packed):
        starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["input_ids"])]
        for a, b in itertools.pairwise(starts):
            ids = row["input_ids"][a:b]
            with torch.no_grad():
                alone = model(input_ids=torch.tensor([ids])).logits[0]
            torch.testing.assert_close(logits[r, a:b], alone, atol=1e-4, rtol=1e-4)
            leaks += int(a > 0 and not torch.allclose(leaky[r, a:b], alone, atol=1e-4))
            seen += 1
    assert seen == len(examples)
    assert leaks > 0


def test_packing_bins_respect_max_length_and_cut_padding(tok) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(1)
    rows = [{"instruction": f"Question {i}: " + "word " * rng.randint(2, 40), "input": "",
             "output": "answer " * rng.randint(1, 80)} for i in range(60)]
    examples = [tokenize_example(tok, r, "alpaca", 256) for r in rows]
    packed = pack_examples(examples, 256)
    assert all(len(p["input_ids"]) <= 256 for p in packed)
    assert sum(len(p["input_ids"]) for p in packed) == sum(len(e["input_ids"]) for e in examples)
    pad = 2047
    dyn = [SFTCollator(pad, packed=False)(examples[i:i + 8]) for i in range(0, len(examples), 8)]
    pk = [SFTCollator(pad, packed=True)(packed[i:i + 2]) for i in range(0, len(packed), 2)]
    assert padding_share(pk, pad) < 0.05 < padding_share(dyn, pad)


def test_collator_pads_right_with_mask_and_ignored_labels() -> None:
    batch = SFTCollator(pad_id=9, packed=False)([{"input_ids": [1, 2, 3], "labels": [IGNORE, 2, 3]},
                                                 {"input_ids": [4], "labels": [4]}])
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 9, 9]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3], [4, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_load_rows_names_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "ok.jsonl"
    good.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n\n", encoding="utf-8")
    assert load_rows(good) == [{"instruction": "a", "input": "", "output": "b"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n" + json.dumps({"instruction": "x"}) + "\n",
                   encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: key 'output'"):
        load_rows(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.jsonl:1: not valid JSON"):
        load_rows(broken)


def test_global_batch_is_constant_across_world_sizes() -> None:
    for world in (1, 2, 4, 8):
        accum = grad_accum_steps(128, 4, world)
        assert accum * 4 * world == 128
    with pytest.raises(BatchSizeError, match=r"global_batch_size 100 .* use global_batch_size 96 or 108"):
        grad_accum_steps(100, 4, 3)
