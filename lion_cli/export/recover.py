"""tuned = base + delta, verified against the delta's manifest before anything is written.

Checks, in order, each refusing with the first tensor that differs:
1. the delta's own files: every stored tensor's SHA-256 (a flipped byte in the delta is named);
2. the base: every tensor the delta was made against has the recorded shape and SHA-256 (a wrong
   or modified base is named, e.g. another fine-tune of the same architecture);
3. the result: every recovered tensor's SHA-256 equals the manifest's (catches anything else).
Only then are the safetensors shards written (into a temporary folder renamed into place), with
the tuned model's original shard layout and tensor names, plus the copied config/tokenizer files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lion_cli.export.delta import MANIFEST, _recover_one, read_manifest
from lion_cli.export.hashing import TensorHasher
from lion_cli.export.tensors import ExportError, TensorFolder

_DTYPES = {"torch.float32", "torch.float16", "torch.bfloat16", "torch.float64", "torch.int64", "torch.int32",
           "torch.int8", "torch.uint8", "torch.bool", "torch.int16"}


def _load_delta(delta_dir: Path, manifest: dict[str, Any], hasher: TensorHasher) -> dict[str, Any]:
    """Every stored tensor of the delta, each checked against its recorded hash."""
    from safetensors import safe_open

    stored: dict[str, Any] = {}
    pending: list[tuple[Path, str, Future[str]]] = []
    for fname, keys in manifest["delta"]["files"].items():
        path = delta_dir / fname
        if not path.is_file():
            raise ExportError(f"{path}: missing delta file (listed in {MANIFEST})")
        try:
            with safe_open(str(path), framework="pt") as fh:
                for key in keys:
                    stored[key] = fh.get_tensor(key)
        except ExportError:
            raise
        except Exception as exc:  # a damaged header or a truncated file
            raise ExportError(f"{path}: cannot read the delta file ({exc}); it is damaged") from None
        pending += [(path, key, hasher.submit(stored[key])) for key in keys]
    for path, key, digest in pending:
        if digest.result() != manifest["delta"]["tensors"][key]:
            raise ExportError(f"{path}: tensor {key!r} does not match its SHA-256 in {MANIFEST}: "
                              "the delta file is corrupted")
    return stored


def _check_base_shapes(base: TensorFolder, manifest: dict[str, Any], hasher: TensorHasher
                       ) -> list[tuple[str, Future[str]]]:
    """Refuse a base whose tensors lack or change shape now; their hashes come back as futures, checked
    by `_check_base_hashes` once the recovery's arithmetic has run beside them."""
    pending = []
    for name, want in manifest["base"]["tensors"].items():
        if name not in base:
            raise ExportError(f"{base.folder}: the base model lacks tensor {name!r}: wrong base model")
        t = base.get(name)
        if list(t.shape) != want["shape"] or str(t.dtype) != want["dtype"]:
            raise ExportError(f"{base.folder}: tensor {name!r} is {list(t.shape)} {t.dtype}, the delta was made "
                              f"against {want['shape']} {want['dtype']}: wrong base model")
        pending.append((name, hasher.submit(t)))
    return pending


def _check_base_hashes(base: TensorFolder, manifest: dict[str, Any], pending: list[tuple[str, Future[str]]]) -> None:
    for name, digest in pending:
        if digest.result() != manifest["base"]["tensors"][name]["sha256"]:
            raise ExportError(f"{base.folder}: tensor {name!r} differs from the base the delta was made against "
                              "(SHA-256 mismatch): wrong or modified base model")


@contextmanager
def new_output_folder(out_dir: Path) -> Iterator[Path]:
    """A temporary folder beside `out_dir` to write the model into, renamed to `out_dir` only when the
    block ends without an error (and removed when it does not): a failed recovery leaves nothing."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir}: exists and is not empty; choose a new --out folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        yield tmp
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def recover(base_dir: Path, delta_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Rebuild the tuned model into out_dir; returns a summary. Raises ExportError on any mismatch
    (checked in the order of the module's docstring; nothing reaches out_dir before all pass)."""
    from safetensors.torch import save_file

    manifest = read_manifest(delta_dir)
    with TensorHasher() as hasher:
        stored = _load_delta(delta_dir, manifest, hasher)
        with new_output_folder(out_dir) as tmp:
            with TensorFolder(base_dir) as base:
                base_pending = _check_base_shapes(base, manifest, hasher)
                result_pending: list[tuple[str, Future[str]]] = []
                for fname, names in manifest["tuned"]["files"].items():
                    shard = {name: _recovered_tensor(name, manifest, stored, base) for name in names}
                    result_pending += [(name, hasher.submit(t)) for name, t in shard.items()]
                    save_file(shard, str(tmp / fname), metadata={"format": "pt"})
                _check_base_hashes(base, manifest, base_pending)
            for name, digest in result_pending:
                if digest.result() != manifest["tuned"]["tensors"][name]["sha256"]:
                    raise ExportError(f"tensor {name!r}: the recovered tensor does not match the manifest's "
                                      "SHA-256 (wrong base or damaged delta)")
            for side in manifest.get("copied_files", []):
                if (delta_dir / side).is_file():
                    shutil.copy2(delta_dir / side, tmp / side)
    return {"out": str(out_dir), "tensors": len(manifest["tuned"]["tensors"]), "dtype": manifest["dtype"],
            "exact": manifest["exact"], "max_abs_error": manifest["max_abs_error"], "fixups": manifest["fixups"]}


def _recovered_tensor(name: str, manifest: dict[str, Any], stored: dict[str, Any], base: TensorFolder) -> Any:
    import torch

    entry = manifest["tuned"]["tensors"][name]
    if entry["dtype"] not in _DTYPES:
        raise ExportError(f"{MANIFEST}: tensor {name!r} has unknown dtype {entry['dtype']!r}")
    dtype = getattr(torch, entry["dtype"].removeprefix("torch."))
    t = _recover_one(name, entry, stored, base.get(name) if name in base else None, dtype)
    if list(t.shape) != entry["shape"]:
        raise ExportError(f"tensor {name!r}: the recovered tensor has shape {list(t.shape)}, the manifest's is "
                          f"{entry['shape']} (wrong base or damaged delta)")
    return t.contiguous()
