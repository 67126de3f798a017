"""Reading a model folder's safetensors tensor by tensor, and hashing tensors by their bytes.

Only safetensors are read or written: a folder holding only pickled weights (.bin/.pt) is refused,
because loading a pickle runs code.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".h5", ".msgpack", ".gguf")


class ExportError(Exception):
    """A problem the user must fix (wrong base, corrupted file, bad folder); the CLI exits with 2."""


def weight_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickled = [p.name for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES] if folder.is_dir() else []
        why = f"only {', '.join(pickled)} (lion reads safetensors only)" if pickled else "no *.safetensors files"
        raise ExportError(f"{folder}: not a model folder: {why}")
    return files


def tensor_sha256(t: Any) -> str:
    """SHA-256 of a tensor's raw bytes in its own dtype (so bf16 and fp32 copies differ)."""
    import torch

    h = hashlib.sha256()
    # The numpy view is hashed through the buffer protocol: no copy of a (possibly GB-sized) tensor.
    h.update(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def bits(t: Any) -> Any:
    """The tensor reinterpreted as integers of the same width: equality here is bit-for-bit."""
    import torch

    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.contiguous().view(width)


def config_sha256(folder: Path) -> str:
    """Hash of config.json as canonical JSON, leaving out fields that change on every re-save."""
    path = folder / "config.json"
    if not path.exists():
        return ""
    cfg = json.loads(path.read_text(encoding="utf-8"))
    for volatile in ("transformers_version", "_name_or_path"):
        cfg.pop(volatile, None)
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()


class TensorFolder(AbstractContextManager["TensorFolder"]):
    """Lazy access to every tensor of a model folder, whichever shard holds it; `with` closes its files."""

    def __init__(self, folder: Path) -> None:
        from safetensors import safe_open

        self.folder = folder
        self._stack = ExitStack()
        self.where: dict[str, Any] = {}
        self.files: dict[str, list[str]] = {}
        for path in weight_files(folder):
            try:
                handle = self._stack.enter_context(safe_open(str(path), framework="pt"))
            except Exception as exc:  # safetensors raises its own error types for a damaged header
                self.close()
                raise ExportError(f"{path}: cannot read the safetensors file ({exc}); it is damaged") from None
            names = list(handle.keys())
            self.files[path.name] = names
            for name in names:
                self.where[name] = handle

    def get(self, name: str) -> Any:
        return self.where[name].get_tensor(name)

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def close(self) -> None:
        self._stack.close()

    def __exit__(self, *exc: object) -> None:
        self.close()
