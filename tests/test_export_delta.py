"""Delta weights: recover(delta(tuned)) == tuned bit for bit in fp32, within tolerance in bf16/fp16;
a wrong base or a flipped byte is refused, naming the tensor; only safetensors are written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lion_cli.export.delta import make_delta
from lion_cli.export.recover import recover
from lion_cli.export.tensors import ExportError


def _load(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    out: dict[str, Any] = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def _bits_equal(a: Any, b: Any) -> bool:
    import torch

    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    return a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a.contiguous().view(width),
                                                                             b.contiguous().view(width)))


@pytest.fixture(scope="module")
def tuned_tiny(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model 'fine-tuned': every weight nudged, and a pad token added (one more embedding row)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("tuned")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    tok.add_special_tokens({"pad_token": "<|lion_pad|>"})
    model.resize_token_embeddings(len(tok))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 1e-3)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def test_fp32_round_trip_is_bit_exact(tiny_model_dir: Path, tuned_tiny: Path, tmp_path: Path) -> None:
    manifest = make_delta(tuned_tiny, tiny_model_dir, tmp_path / "delta", "fp32")
    extra = [n for n, e in manifest["tuned"]["tensors"].items() if e.get("base_rows") is not None
             and e["base_rows"] < e["shape"][0]]
    assert extra, "the added pad token must show up as extra embedding rows"
    info = recover(tiny_model_dir, tmp_path / "delta", tmp_path / "out")
    assert info["exact"] and info["tensors"] == len(_load(tuned_tiny))
    want, got = _load(tuned_tiny), _load(tmp_path / "out")
    assert set(want) == set(got) and all(_bits_equal(want[k], got[k]) for k in want)
    assert (tmp_path / "out" / "tokenizer.json").read_bytes() == (tuned_tiny / "tokenizer.json").read_bytes()
    for folder in (tmp_path / "delta", tmp_path / "out"):   # only safetensors hold weights
        assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    # The recovered folder loads as a model again.
    from transformers import AutoModelForCausalLM

    emb: Any = AutoModelForCausalLM.from_pretrained(tmp_path / "out").get_input_embeddings()
    assert emb.weight.shape[0] == want["model.embed_tokens.weight"].shape[0]


@pytest.mark.parametrize(("dtype", "rel"), [("bf16", 2.0 ** -8), ("fp16", 2.0 ** -11)])
def test_half_precision_within_stated_tolerance(tiny_model_dir: Path, tuned_tiny: Path, tmp_path: Path,
                                                dtype: str, rel: float) -> None:
    manifest = make_delta(tuned_tiny, tiny_model_dir, tmp_path / "delta", dtype)
    full = make_delta(tuned_tiny, tiny_model_dir, tmp_path / "delta32", "fp32")
    size = sum(p.stat().st_size for p in (tmp_path / "delta").glob("*.safetensors"))
    size32 = sum(p.stat().st_size for p in (tmp_path / "delta32").glob("*.safetensors"))
    assert size < 0.6 * size32 and not manifest["exact"] and full["exact"]
    recover(tiny_model_dir, tmp_path / "delta", tmp_path / "out")
    want, got, base = _load(tuned_tiny), _load(tmp_path / "out"), _load(tiny_model_dir)
    worst = 0.0
    for name, t in want.items():
        b = base[name]
        rows = b.shape[0]
        diff = (t[:rows] - b).abs()
        err = (got[name][:rows] - t[:rows]).abs()
        # |recovered − tuned| ≤ |tuned − base| · 2^-p (half an ulp below fp16's normal range: 2^-25),
        # plus one fp32 rounding of the sum.
        assert bool((err <= diff * rel + t[:rows].abs() * 2.0 ** -23 + 2.0 ** -25).all()), name
        worst = max(worst, float(err.max()))
        assert _bits_equal(got[name][rows:], t[rows:])       # extra rows are stored whole
    assert manifest["max_abs_error"] == pytest.approx(worst)


def test_wrong_base_is_refused_naming_the_tensor(tmp_path: Path, tuned_tiny: Path, tiny_model_dir: Path) -> None:
    from lion_cli.demo.tiny_model import build_tiny_model

    make_delta(tuned_tiny, tiny_model_dir, tmp_path / "delta", "fp32")
    other = build_tiny_model(tmp_path / "other", seed=1)
    with pytest.raises(ExportError, match=r"tensor '[^']+' differs from the base .* wrong or modified base"):
        recover(other, tmp_path / "delta", tmp_path / "out")
    assert not (tmp_path / "out").exists()                    # nothing written


def test_flipped_byte_in_delta_is_refused(tmp_path: Path, tuned_tiny: Path, tiny_model_dir: Path) -> None:
    make_delta(tuned_tiny, tiny_model_dir, tmp_path / "delta", "fp32")
    shard = next((tmp_path / "delta").glob("delta-*.safetensors"))
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0x01                                         # a byte inside the last tensor's data
    shard.write_bytes(bytes(data))
    with pytest.raises(ExportError, match=r"tensor '[^']+' does not match its SHA-256 .* corrupted"):
        recover(tiny_model_dir, tmp_path / "delta", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hasher_leaves_torch_only_the_cores_its_threads_do_not_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's op threads stall on cores the hash threads share; they are limited while hashing, then restored."""
    import torch

    from lion_cli.export import hashing

    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        for cores, inside in ((2, 1), (3, 1), (5, 3), (16, 4)):
            monkeypatch.setattr(hashing, "_usable_cores", lambda n=cores: n)
            with hashing.TensorHasher(threads=2) as hasher:
                assert torch.get_num_threads() == inside, cores
                assert len(hasher.submit(torch.ones(3)).result()) == 64
            assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(saved)


def test_fixups_make_unrepresentable_differences_exact(tmp_path: Path) -> None:
    """t − b rounds when b ≫ t; those elements are stored verbatim so fp32 stays bit for bit."""
    import torch
    from safetensors.torch import save_file

    base, tuned = tmp_path / "base", tmp_path / "tuned"
    base.mkdir()
    tuned.mkdir()
    b = torch.tensor([1.0e8, 2.0, -3.0e9, 0.5])
    t = torch.tensor([1.2345678e-3, 2.5, 7.0e-4, 0.5])
    save_file({"w": b, "steps": torch.tensor([3])}, str(base / "model.safetensors"))
    save_file({"w": t, "steps": torch.tensor([7]), "new": torch.ones(2)}, str(tuned / "model.safetensors"))
    (tuned / "config.json").write_text(json.dumps({"model_type": "x"}))
    m = make_delta(tuned, base, tmp_path / "d", "fp32")
    assert m["fixups"] >= 2 and m["tuned"]["tensors"]["new"]["kind"] == "whole"
    recover(base, tmp_path / "d", tmp_path / "out")
    got = _load(tmp_path / "out")
    assert _bits_equal(got["w"], t) and got["steps"].item() == 7 and _bits_equal(got["new"], torch.ones(2))


def test_pickled_weights_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").rename(tmp_path / "m" / "pytorch_model.bin")
    with pytest.raises(ExportError, match="lion reads safetensors only"):
        make_delta(tmp_path / "m", tiny_model_dir, tmp_path / "d")


def test_cli_delta_and_recover(lion_cli: Any, tiny_model_dir: Path, tuned_tiny: Path, tmp_path: Path) -> None:
    res = lion_cli("export", "delta", "--base", str(tiny_model_dir), "--model", str(tuned_tiny),
                   "--out", str(tmp_path / "d"), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["exact"] is True
    res = lion_cli("export", "recover", "--base", str(tiny_model_dir), "--delta", str(tmp_path / "d"),
                   "--out", str(tmp_path / "r"))
    assert res.exit_code == 0 and "every SHA-256 matches" in res.stdout
    res = lion_cli("export", "recover", "--base", str(tuned_tiny), "--delta", str(tmp_path / "d"),
                   "--out", str(tmp_path / "r2"))
    assert res.exit_code == 2 and "wrong" in res.stderr and not (tmp_path / "r2").exists()
