"""The [student] teacher_model check for white-box distillation: the folder holds a model, and its
tokenizer is the student's (the divergence compares the two distributions id by id, so one vocabulary
must mean the same tokens on both sides). Findings are (key under [student], message)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lion_cli.config import StudentSettings, model_location, resolve_path

Finding = tuple[str, str]
SHOWN_TOKENS = 3  # differing ids named in a finding


def vocabulary_difference(teacher: Mapping[str, int], student: Mapping[str, int]) -> str | None:
    """What differs between two vocabularies (token → id): their sizes, else the first ids whose token
    differs; None when they are the same."""
    if len(teacher) != len(student):
        return f"vocab size differs: the teacher's tokenizer has {len(teacher)} tokens, the student's {len(student)}"
    by_id_t = {i: t for t, i in teacher.items()}
    by_id_s = {i: t for t, i in student.items()}
    differing = sorted(i for i in set(by_id_t) | set(by_id_s) if by_id_t.get(i) != by_id_s.get(i))
    if not differing:
        return None
    shown = ", ".join(f"id {i} is {by_id_t.get(i)!r} for the teacher, {by_id_s.get(i)!r} for the student"
                      for i in differing[:SHOWN_TOKENS])
    more = f" (and {len(differing) - SHOWN_TOKENS} more ids)" if len(differing) > SHOWN_TOKENS else ""
    return f"{len(differing)} token(s) differ: {shown}{more}"


def _tokenizer(ref: str) -> Any:
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return AutoTokenizer.from_pretrained(ref, local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)


def _special_difference(teacher: Any, student: Any) -> str | None:
    for name in ("eos_token_id", "bos_token_id"):
        t, s = getattr(teacher, name, None), getattr(student, name, None)
        if t != s:
            return f"{name} differs: the teacher's is {t}, the student's {s}"
    return None


def teacher_model_findings(s: StudentSettings, project_dir: Path) -> list[Finding]:
    """The teacher folder loads as a model and its tokenizer equals the base model's; nothing to say
    when there is no teacher_model (sft), or the base model does not load (base_model_findings says so)."""
    if not s.teacher_model.strip():
        return []
    folder = resolve_path(project_dir, s.teacher_model)
    if not folder.is_dir():
        return [("teacher_model", f"{folder}: no such folder (a local teacher model folder is needed)")]
    if not (folder / "config.json").is_file():
        return [("teacher_model", f"{folder} is not a model folder (no config.json)")]
    try:
        teacher = _tokenizer(str(folder))
    except ImportError:
        return []  # launch_findings names the missing transformers
    except Exception as exc:
        return [("teacher_model", f"{folder}: its tokenizer does not load: {' '.join(str(exc).split())[:300]}")]
    try:
        student = _tokenizer(model_location(project_dir, s.base_model)) if s.base_model.strip() else None
    except Exception:
        student = None
    if student is None:
        return []
    why = vocabulary_difference(teacher.get_vocab(), student.get_vocab()) or _special_difference(teacher, student)
    if why is None:
        return []
    return [("teacher_model", f"{folder}: the teacher's tokenizer is not the student's ({why}); white-box "
                              "distillation needs the same vocabulary")]
