"""Delta weights: publish tuned − base (whose licence may forbid sharing the tuned weights whole),
and recover tuned = base + delta, verified.

Per tensor, the difference is computed in fp32 and stored in the chosen dtype:
- fp32 is exact: recover(delta) equals the tuned model bit for bit. fp32 rounding can still break
  that for a few elements (t − b is not always representable, e.g. b ≫ t), so those elements are
  found at export time and stored verbatim as a fix-up (`<name>::fix_idx` / `<name>::fix_val`).
- bf16 / fp16 halve the size and are lossy: |recovered − tuned| ≤ |tuned − base| · 2⁻⁸ (bf16) or
  2⁻¹¹ (fp16; below fp16's normal range, 6·10⁻⁵, at most 2⁻²⁵ absolute), plus the rounding to the
  tuned dtype; the manifest records the largest error.
A tensor that grew along dim 0 (embedding rows for an added pad token) has the base's rows as a
difference and the new rows stored whole in the tuned dtype (`<name>::extra`); a tensor the base
lacks, or one that is not floating point, is stored whole (`<name>::whole`).

manifest.json holds the base's identity (config hash, every tensor's shape and SHA-256), the
delta's own tensor hashes (a damaged file is named), and the SHA-256 of every tensor of the tuned
model AS IT WILL BE RECOVERED, which `recover` checks before writing anything.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from lion_cli.export.hashing import TensorHasher, resolved
from lion_cli.export.tensors import (
    WEIGHT_SUFFIXES,
    ExportError,
    TensorFolder,
    bits,
    config_sha256,
)

FORMAT = "lion-delta/1"
DTYPES = ("fp32", "bf16", "fp16")
MANIFEST = "manifest.json"


def _torch_dtype(name: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def _apply(base: Any, delta: Any, extra: Any | None, out_dtype: Any) -> Any:
    """One tensor of the recovered model from its base, stored difference and extra rows."""
    import torch

    recovered = (base.float() + delta.float()).to(out_dtype)
    return recovered if extra is None else torch.cat([recovered, extra.to(out_dtype)], dim=0)


def _delta_one(name: str, t: Any, b: Any | None, dtype: str, exact: bool
               ) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(stored tensors, manifest entry, the tensor `recover` will rebuild from them) for one tuned tensor."""
    import torch

    if b is None or not t.is_floating_point():
        return {f"{name}::whole": t}, {"kind": "whole"}, t
    if b.dim() != t.dim() or b.shape[1:] != t.shape[1:] or b.shape[0] > t.shape[0]:
        raise ExportError(f"tensor {name}: tuned shape {list(t.shape)} cannot come from base shape "
                          f"{list(b.shape)} (only rows added along dim 0 are supported)")
    rows = b.shape[0] if b.dim() else None
    head = t[:rows] if rows is not None else t
    diff = head.float() - b.float()
    if dtype == "fp16" and diff.abs().max() > 65504:
        raise ExportError(f"tensor {name}: differences exceed fp16's range; use --dtype bf16 or fp32")
    stored = {name: diff.to(_torch_dtype(dtype)).contiguous()}
    extra = t[rows:].contiguous() if rows is not None and rows < t.shape[0] else None
    if extra is not None:
        stored[f"{name}::extra"] = extra
    recovered = _apply(b, stored[name], extra, t.dtype)
    entry: dict[str, Any] = {"kind": "delta", "base_rows": rows}
    # torch.equal first: no mask the size of the tensor in the usual case, where every element matches
    if exact and not torch.equal(bits(recovered), bits(t)):
        idx = torch.nonzero((bits(recovered) != bits(t)).reshape(-1)).reshape(-1)
        stored[f"{name}::fix_idx"] = idx
        stored[f"{name}::fix_val"] = t.reshape(-1)[idx].contiguous()
        entry["fixups"] = int(idx.numel())
        recovered = _fix(recovered, stored[f"{name}::fix_idx"], stored[f"{name}::fix_val"])
    elif not exact:
        entry["max_abs_error"] = float((recovered.float() - t.float()).abs().max()) if t.numel() else 0.0
    return stored, entry, recovered


def _fix(out: Any, idx: Any, val: Any) -> Any:
    flat = out.reshape(-1).clone()
    flat[idx] = val
    return flat.reshape(out.shape)


def make_delta(tuned_dir: Path, base_dir: Path, out_dir: Path, dtype: str = "fp32") -> dict[str, Any]:
    """Write tuned − base to out_dir (safetensors + manifest.json + the tuned tokenizer/config files)."""
    from safetensors.torch import save_file

    if dtype not in DTYPES:
        raise ExportError(f"--dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"format": FORMAT, "dtype": dtype, "exact": dtype == "fp32",
                                "base": {"config_sha256": config_sha256(base_dir), "tensors": {}},
                                "tuned": {"files": {}, "tensors": {}}, "delta": {"files": {}, "tensors": {}}}
    with TensorFolder(tuned_dir) as tuned, TensorFolder(base_dir) as base, TensorHasher() as hasher:
        for k, (fname, names) in enumerate(sorted(tuned.files.items()), 1):
            dname = f"delta-{k:05d}.safetensors"
            manifest["tuned"]["files"][fname] = names
            shard: dict[str, Any] = {}
            for name in names:
                t = tuned.get(name)
                b = base.get(name) if name in base else None
                if b is not None:
                    manifest["base"]["tensors"][name] = {"shape": list(b.shape), "dtype": str(b.dtype),
                                                         "sha256": hasher.submit(b)}
                # The hash is of the tensor exactly as `recover` rebuilds it (same operations, same order).
                stored, entry, recovered = _delta_one(name, t, b, dtype, exact=dtype == "fp32")
                entry.update(shape=list(t.shape), dtype=str(t.dtype), sha256=hasher.submit(recovered))
                manifest["tuned"]["tensors"][name] = entry
                shard.update(stored)
            for key, value in shard.items():
                manifest["delta"]["tensors"][key] = hasher.submit(value)
            manifest["delta"]["files"][dname] = sorted(shard)
            save_file(shard, str(out_dir / dname), metadata={"format": "pt", "lion": FORMAT})
    manifest = resolved(manifest)
    errors = [e.get("max_abs_error", 0.0) for e in manifest["tuned"]["tensors"].values()]
    manifest["max_abs_error"] = max(errors, default=0.0)
    manifest["fixups"] = sum(e.get("fixups", 0) for e in manifest["tuned"]["tensors"].values())
    manifest["copied_files"] = _copy_side_files(tuned_dir, out_dir)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _recover_one(name: str, entry: dict[str, Any], stored: dict[str, Any], base: Any | None, dtype: Any) -> Any:
    if entry["kind"] == "whole":
        return stored[f"{name}::whole"]
    if base is None:
        raise ExportError(f"tensor {name}: the base model has no such tensor (wrong base?)")
    out = _apply(base, stored[name], stored.get(f"{name}::extra"), dtype)
    if f"{name}::fix_idx" in stored:
        out = _fix(out, stored[f"{name}::fix_idx"], stored[f"{name}::fix_val"])
    return out


def _copy_side_files(src: Path, dst: Path) -> list[str]:
    """Tokenizer, config and generation files: everything but weights and folders."""
    copied = []
    for p in sorted(src.iterdir()):
        if p.is_file() and p.suffix not in WEIGHT_SUFFIXES and p.name != MANIFEST and not p.name.startswith("."):
            shutil.copy2(p, dst / p.name)
            copied.append(p.name)
    return copied


def read_manifest(delta_dir: Path) -> dict[str, Any]:
    path = delta_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: cannot read the delta manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ExportError(f"{path}: key 'format': expected {FORMAT!r}, got {manifest.get('format')!r}")
    return manifest
