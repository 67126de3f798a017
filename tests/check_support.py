"""Shared plumbing for the `lion check` tests: a project that passes every offline check (a local
scripted server, a small model folder that transformers loads without torch weights), and ways to
tell that nothing was sent or written."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from lion_cli.cli.demo import demo_overrides
from lion_cli.cli.init import init_project
from lion_cli.core.tomltext import set_key

SEEDS = Path(__file__).resolve().parent.parent / "lion_cli" / "data" / "demo_seeds.jsonl"
MODEL_CONFIG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 16,
                "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 2,
                "num_hidden_layers": 1, "vocab_size": 32, "max_position_embeddings": 2048}


def write_model_folder(path: Path) -> Path:
    """config.json + a word-level fast tokenizer: what the preflight loads (no weights needed)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(MODEL_CONFIG), encoding="utf-8")
    vocab = {w: i for i, w in enumerate(["[UNK]", "[PAD]", "</s>", "the", "a", "is", "of", "and"])}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()  # type: ignore[assignment]
    tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "pad_token": "[PAD]",
         "eos_token": "</s>"}), encoding="utf-8")
    return path


def make_ready_project(root: Path, url: str, model_dir: Path) -> Path:
    """A project every offline check passes: the demo's settings against `url`, 24 seeds."""
    seed_file = root / "seeds.jsonl"
    seed_file.write_text("".join(SEEDS.read_text(encoding="utf-8").splitlines(keepends=True)[:24]),
                         encoding="utf-8")
    project = root / "proj"
    init_project(project, seed_file, name="checked", overrides=demo_overrides(url, "scripted", model_dir, False))
    return project


def copy_project(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def set_toml(project: Path, key: str, value: object) -> None:
    path = project / "lion.toml"
    path.write_text(set_key(path.read_text(encoding="utf-8"), key, value), encoding="utf-8")


def fingerprint(project: Path) -> dict[str, str]:
    """The bytes of every file in the project folder (lion.db included), by name."""
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}
