"""Per-row reproducible sampling (batch_decode.py), in process with the tiny model."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lion_cli.student.scripts.batch_decode import (  # noqa: E402
    Sampling,
    SeededRowSampler,
    derive_seed,
    generate_batch,
    load_model,
)

PROMPTS = [
    "### Instruction:\nHow do I water basil?\n\n### Response:\n",
    "Give three tips about sleep.",
    "What is 4 plus 5?",
    "Write a short note to Tom about the budget review and the deadline on Friday, please.",
    "Hi",
    "Explain in one sentence why people bake bread.",
    "Checklist for travel:\n-",
    "for row in rows:",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    model, tok = load_model(str(tiny_model_dir), "fp32", "cpu")
    return model, tok, [tok(p).input_ids for p in PROMPTS]


def test_a_row_samples_the_same_in_a_batch_of_1_and_of_8(tiny) -> None:
    model, tok, ids = tiny
    sampling = Sampling(max_new_tokens=24, temperature=0.7, top_p=0.95, top_k=50)
    seeds = [derive_seed(0, str(i)) for i in range(len(ids))]
    batched = generate_batch(model, tok, ids, seeds, sampling)
    alone = [generate_batch(model, tok, [ids[i]], [seeds[i]], sampling)[0] for i in range(len(ids))]
    assert batched == alone
    # Order inside the batch does not matter either.
    assert generate_batch(model, tok, ids[::-1], seeds[::-1], sampling)[::-1] == batched
    # It is really sampling: another seed gives another text, and it differs from greedy.
    reseeded = generate_batch(model, tok, ids, [s + 1 for s in seeds], sampling)
    greedy = generate_batch(model, tok, ids, seeds, Sampling(max_new_tokens=24, temperature=0.0))
    assert sum(a.text != b.text for a, b in zip(batched, reseeded, strict=True)) >= 6
    assert sum(a.text != b.text for a, b in zip(batched, greedy, strict=True)) >= 6
    assert all(c.finish_reason == "length" and c.completion_tokens == 24 for c in batched)
    assert [c.prompt_tokens for c in batched] == [len(i) for i in ids]


def test_rows_with_different_settings_share_a_batch(tiny) -> None:
    model, tok, ids = tiny
    mixed = [Sampling(8 + 3 * i, [0.0, 0.7, 1.0][i % 3], [1.0, 0.9, 0.8][i % 3], [0, 0, 20][i % 3])
             for i in range(len(ids))]
    seeds = list(range(len(ids)))
    batched = generate_batch(model, tok, ids, seeds, mixed)
    alone = [generate_batch(model, tok, [ids[i]], [seeds[i]], mixed[i])[0] for i in range(len(ids))]
    assert batched == alone
    # Each row ran to its own limit (or stopped at EOS, which a random model rarely emits).
    for i, c in enumerate(batched):
        assert (c.finish_reason, c.completion_tokens) == ("length", 8 + 3 * i) or (
            c.finish_reason == "stop" and c.completion_tokens <= 8 + 3 * i)
    assert sum(c.finish_reason == "length" for c in batched) >= 6


def test_draws_follow_the_tempered_softmax_and_respect_top_k_top_p() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]])
    n = 4000
    for temperature in (0.7, 1.5):
        sampler = SeededRowSampler(list(range(n)), [Sampling(1, temperature)] * n, torch.device("cpu"))
        picks = Counter(sampler(None, logits.expand(n, -1)).argmax(-1).tolist())
        expected = torch.softmax(logits[0] / temperature, -1)
        for token in range(6):
            assert abs(picks[token] / n - expected[token].item()) < 0.03, (temperature, token)
    top_k = SeededRowSampler(list(range(n)), [Sampling(1, 1.0, top_k=2)] * n, torch.device("cpu"))
    assert set(top_k(None, logits.expand(n, -1)).argmax(-1).tolist()) == {0, 1}
    # softmax(logits) ≈ [.56, .21, .12, .08, .03, .00]: top_p 0.7 keeps the first two (0.56 < 0.7).
    top_p = SeededRowSampler(list(range(n)), [Sampling(1, 1.0, top_p=0.7)] * n, torch.device("cpu"))
    assert set(top_p(None, logits.expand(n, -1)).argmax(-1).tolist()) == {0, 1}


def test_rows_stop_at_eos_independently(tiny_model_dir: Path, tmp_path: Path) -> None:
    # The random tiny model almost never emits </s>; declare many ids as EOS (as models with several
    # end tokens do) so rows stop at different steps, and check each stops exactly there.
    folder = tmp_path / "many_eos"
    shutil.copytree(tiny_model_dir, folder)
    gen_cfg = json.loads((folder / "generation_config.json").read_text())
    stops = list(range(2, 300))
    gen_cfg["eos_token_id"] = stops
    (folder / "generation_config.json").write_text(json.dumps(gen_cfg))
    model, tok = load_model(str(folder), "fp32", "cpu")
    ids = [tok(p).input_ids for p in PROMPTS]
    sampling = Sampling(max_new_tokens=40, temperature=1.0)
    batched = generate_batch(model, tok, ids, list(range(8)), sampling)
    alone = [generate_batch(model, tok, [ids[i]], [i], sampling)[0] for i in range(len(ids))]
    assert batched == alone
    stopped = [c for c in batched if c.finish_reason == "stop"]
    assert len(stopped) >= 4 and len({c.completion_tokens for c in stopped}) >= 3
    for i, c in enumerate(batched):
        if c.finish_reason == "length":
            assert c.completion_tokens == 40
            continue
        if c.completion_tokens == 1:  # stopped at once: the text is empty
            assert c.text == ""
            continue
        # One step shorter and the same row runs out of room instead: it stopped exactly there.
        shorter = generate_batch(model, tok, [ids[i]], [i], Sampling(c.completion_tokens - 1, 1.0))[0]
        assert shorter.finish_reason == "length" and shorter.completion_tokens == c.completion_tokens - 1
        assert c.text.startswith(shorter.text)


def test_draws_over_steps_and_a_wide_nucleus_in_the_batch() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]])
    expected = torch.softmax(logits[0], -1)
    # One row, many steps: the stream of one seed follows the distribution too.
    sampler = SeededRowSampler([42], [Sampling(1, 1.0)], torch.device("cpu"))
    picks = Counter(int(sampler(None, logits).argmax()) for _ in range(4000))
    for token in range(6):
        assert abs(picks[token] / 4000 - expected[token].item()) < 0.03, token
    # A peaked row draws the same token whether its batch-mate's nucleus fits the partial sort
    # (256 tokens) or is flat and forces a sort of the whole vocabulary.
    vocab = 5000
    peaked = torch.full((vocab,), -10.0)
    peaked[:40] = torch.linspace(6, 0, 40)
    flat = torch.zeros(vocab)
    setting = Sampling(1, 0.8, top_p=0.9)
    for seed in range(50):
        alone = SeededRowSampler([seed], [setting], torch.device("cpu"))(None, peaked[None]).argmax(-1)
        pair = SeededRowSampler([seed, seed + 1], [setting] * 2, torch.device("cpu"))(None, torch.stack([peaked, flat]))
        assert int(pair[0].argmax()) == int(alone[0])
        assert int(pair[1].argmax()) < vocab  # the flat row drew something, with no error
