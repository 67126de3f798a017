"""The [student] checks that need more than the settings: the base model loads, the strategy's
DeepSpeed JSON parses, the hostfile exists, the launcher is installed, the batch splits, several
nodes can find each other. Each finding is (key under [student], message)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

from lion_cli.config import StudentSettings, resolve_path
from lion_cli.preflight.model_cache import recall, remember
from lion_cli.student.specs import DEEPSPEED_STRATEGIES, STRATEGIES, BatchSizeError, grad_accum_steps

Finding = tuple[str, str]
INSTALL_HINT = "pip install 'lion-cli[student]'"
# org/name as the Hugging Face hub spells a model id; anything else is meant as a folder.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300] + ("…" if len(text) > 300 else "")


def uses_deepspeed(strategy: str) -> bool:
    return strategy in DEEPSPEED_STRATEGIES or strategy.endswith(".json")


def training_launcher(s: StudentSettings) -> str:
    """The launcher training really runs under (see pipeline.student_specs and student.jobs): more
    than one process never runs under plain python, and DeepSpeed strategies need deepspeed's."""
    launcher = s.launcher
    if launcher == "python" and s.nproc_per_node * s.nnodes > 1:
        launcher = "torchrun"
    if launcher == "torchrun" and uses_deepspeed(s.strategy):
        launcher = "deepspeed"
    return launcher


def _load_model_files(ref: str) -> dict[str, Any] | str:
    """Load AutoConfig and AutoTokenizer from local files only (a folder, or a hub id already cached);
    what the other checks need of them, or why they do not load."""
    try:
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError:
        return f"transformers is not installed ({INSTALL_HINT})"
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(ref, local_files_only=True)
    except Exception as exc:
        return f"its config does not load: {_one_line(exc)}"
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=True)
    except Exception as exc:
        return f"its tokenizer does not load: {_one_line(exc)}"
    finally:
        hf_logging.set_verbosity(verbosity)
    positions = getattr(config, "max_position_embeddings", None)
    return {"max_position_embeddings": positions if isinstance(positions, int) else None,
            "chat_template": bool(getattr(tokenizer, "chat_template", None))}


def _folder_facts(folder: Path) -> dict[str, Any] | str:
    known = recall(folder)
    if known is not None:
        return known
    facts = _load_model_files(str(folder))
    if isinstance(facts, dict):
        remember(folder, facts)
    return facts


def base_model_findings(s: StudentSettings, project_dir: Path) -> list[Finding]:
    value = s.base_model.strip()
    if not value:
        return [("base_model", "empty: set it to the student's starting point, a Hugging Face model folder "
                               "(config.json + tokenizer) or a hub id already downloaded, e.g. "
                               "base_model = \"/models/llama-7b\"")]
    path = resolve_path(project_dir, value)
    if path.exists() and not path.is_dir():
        return [("base_model", f"{path} is a file; expected a model folder (config.json + tokenizer)")]
    if path.exists():
        facts = _folder_facts(path)
        if isinstance(facts, str):
            return [("base_model", f"{path}: {facts}")]
    elif not HUB_ID.fullmatch(value):
        return [("base_model", f"{path}: no such folder")]
    else:
        facts = _load_model_files(value)
        if isinstance(facts, str):
            return [("base_model", f"{path}: no such folder, and {value!r} is not a model in the Hugging Face "
                                   "cache (download it first, or give the folder)")]
    findings = []
    positions = facts["max_position_embeddings"]
    if positions is not None and s.max_length > positions:
        findings.append(("max_length", f"{s.max_length} exceeds the base model's max_position_embeddings "
                                       f"({positions}); expected at most {positions}"))
    if s.prompt_format == "chat" and not facts["chat_template"]:
        findings.append(("prompt_format", "'chat' needs a chat template, and the base model's tokenizer has none "
                                          "(expected prompt_format = \"alpaca\")"))
    return findings


def strategy_findings(s: StudentSettings, project_dir: Path) -> list[Finding]:
    if not s.strategy.endswith(".json"):
        if s.strategy in STRATEGIES:
            return []
        return [("strategy", f"unknown strategy {s.strategy!r} (expected one of {', '.join(STRATEGIES)}, or the "
                             "path of a DeepSpeed .json config)")]
    path = resolve_path(project_dir, s.strategy)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [("strategy", f"{path}: no such DeepSpeed config")]
    except (OSError, UnicodeDecodeError) as exc:
        return [("strategy", f"{path}: cannot be read ({exc})")]
    except json.JSONDecodeError as exc:
        return [("strategy", f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})")]
    if not isinstance(data, dict):
        return [("strategy", f"{path}: expected a JSON object (a DeepSpeed config)")]
    return []


def launch_findings(s: StudentSettings, project_dir: Path) -> list[Finding]:
    findings: list[Finding] = []
    launcher = training_launcher(s)
    world = s.nproc_per_node * s.nnodes
    try:
        grad_accum_steps(s.global_batch_size, s.per_device_batch_size, world)
    except BatchSizeError as exc:
        findings.append(("global_batch_size", f"{exc} (world_size = nproc_per_node × nnodes)"))
    if s.node_rank >= s.nnodes:
        findings.append(("node_rank", f"{s.node_rank} with nnodes = {s.nnodes} (expected 0 to {s.nnodes - 1})"))
    if s.nnodes > 1 and launcher in ("torchrun", "accelerate") and not s.rdzv_endpoint:
        findings.append(("rdzv_endpoint", f"{s.nnodes} nodes under {launcher} need it: host:port of node 0"))
    if s.nnodes > 1 and launcher == "deepspeed" and not s.hostfile:
        findings.append(("hostfile", f"{s.nnodes} nodes under deepspeed need a hostfile"))
    if s.hostfile and not resolve_path(project_dir, s.hostfile).is_file():
        findings.append(("hostfile", f"{resolve_path(project_dir, s.hostfile)}: no such file"))
    for module in ("torch", "transformers", *([launcher] if launcher in ("deepspeed", "accelerate") else [])):
        if importlib.util.find_spec(module) is None:
            extra = "lion-cli[deepspeed]" if module == "deepspeed" else "lion-cli[student]"
            findings.append(("launcher", f"{launcher} training needs {module}, which is not installed here "
                                         f"(pip install '{extra}')"))
    return findings


def student_notes(s: StudentSettings) -> list[str]:
    """Settings that work but not as written: said, not refused."""
    notes = []
    if s.precision != "fp32" and not _cuda_visible():
        notes.append(f"student.precision = \"{s.precision}\" but no CUDA device is visible: training runs in fp32")
    if s.generation.backend == "vllm" and importlib.util.find_spec("vllm") is None:
        notes.append("student.generation.backend = \"vllm\" but vllm is not installed: generation uses hf")
    return notes


def _cuda_visible() -> bool:
    """Without importing torch (seconds): an NVIDIA driver's device node or tool is present."""
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None
