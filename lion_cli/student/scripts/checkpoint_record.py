"""Which checkpoint a training job may resume from: only one that the same job wrote.

Beside every checkpoint-N the training script writes a record, lion-job.json: the job's id (the
project and iteration that asked for it) and a fingerprint of what shapes its weights: the training
data's SHA-256, the starting model's identity and every setting that changes training. A checkpoint
whose record is missing or differs (a replaced project's run in the same folder, other data, other
settings) is never resumed from, since its weights belong to another job; the script says why and
removes it, so that checkpoint rotation and the next resume see only this job's checkpoints.

The record is written last, after the Trainer's own files: a checkpoint without one is incomplete.
Identities are by content, not by location, so a project that was copied or moved still resumes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lion_cli.student.specs import TrainSpec

RECORD_NAME = "lion-job.json"
# Spec keys that do not shape the weights: where the files are, how often checkpoints are kept (the
# teacher counts by its files' contents, as the model does).
NOT_SHAPING = frozenset({"model_path", "data_path", "output_dir", "save_steps", "save_total_limit", "job_id",
                         "teacher_model"})
WHOLE_FILE_LIMIT = 64 << 20  # files up to this size are hashed whole; larger weights by size and ends
SAMPLE = 1 << 20


def _sha256(path: Path, *, whole: bool) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        if whole:
            for block in iter(lambda: fh.read(SAMPLE), b""):
                digest.update(block)
        else:  # a weights file: its size, first and last MiB tell one model from another cheaply
            size = path.stat().st_size
            digest.update(str(size).encode())
            digest.update(fh.read(SAMPLE))
            fh.seek(max(0, size - SAMPLE))
            digest.update(fh.read(SAMPLE))
    return digest.hexdigest()


def model_identity(model_path: str) -> dict[str, Any]:
    """A model folder by its files' contents (where it lives does not count); a hub id by its name."""
    folder = Path(model_path)
    if not folder.is_dir():
        return {"hub_id": model_path}
    files = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        files[path.name] = _sha256(path, whole=path.stat().st_size <= WHOLE_FILE_LIMIT)
    return {"files": files}


def job_record(spec: TrainSpec) -> dict[str, Any]:
    """What a checkpoint of this job records about it."""
    settings = {k: v for k, v in spec.to_dict().items() if k not in NOT_SHAPING}
    record = {"job_id": spec.job_id, "data_sha256": _sha256(Path(spec.data_path), whole=True),
              "model": model_identity(spec.model_path), "settings": settings}
    if spec.objective != "sft":
        # A distillation checkpoint is resumed only with the same teacher weights, wherever they live.
        record["teacher"] = model_identity(spec.teacher_model)
    return record


def write_record(checkpoint: Path, record: dict[str, Any]) -> None:
    tmp = checkpoint / (RECORD_NAME + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(checkpoint / RECORD_NAME)


def read_record(checkpoint: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((checkpoint / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def checkpoints(output_dir: Path) -> list[Path]:
    """The complete checkpoints in output_dir (record written), newest first."""
    done = [p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
            and (p / "trainer_state.json").exists() and (p / RECORD_NAME).exists()]
    return sorted(done, key=lambda p: int(p.name.split("-")[-1]), reverse=True)


def spec_defaults() -> dict[str, Any]:
    """Each TrainSpec field's default, as `to_dict` writes it (the fields without one left out)."""
    from dataclasses import MISSING, fields

    return {f.name: f.default for f in fields(TrainSpec)
            if f.default is not MISSING and f.name not in NOT_SHAPING}


def mismatch(record: dict[str, Any] | None, expected: dict[str, Any]) -> str | None:
    """Why a checkpoint with `record` is not this job's; None when it is."""
    if record is None:
        return "it has no record of the job that wrote it (an older lion, or stopped while saving it)"
    if record.get("job_id") != expected["job_id"]:
        return f"it was written by another job ({record.get('job_id')!r}, this is {expected['job_id']!r})"
    if record.get("data_sha256") != expected["data_sha256"]:
        return "it was trained on other data (the training file's SHA-256 differs)"
    if record.get("model") != expected["model"]:
        return "it started from another model"
    if record.get("teacher") != expected.get("teacher"):
        return "it was distilled from another teacher (or from none)"
    # A setting an older lion did not record yet stands at its default there: a checkpoint written before
    # a setting existed is still this job's while the job keeps that setting's default.
    theirs, ours = {**spec_defaults(), **(record.get("settings") or {})}, expected["settings"]
    changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    return f"its training settings differ ({', '.join(changed)})" if changed else None


def stale_and_resumable(output_dir: Path, expected: dict[str, Any]) -> tuple[list[tuple[Path, str]], Path | None]:
    """(checkpoint folders that are not this job's, each with the reason; this job's newest checkpoint)."""
    resume = None
    stale = []
    found = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    for path in sorted(found, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        if not (path / "trainer_state.json").exists():
            why: str | None = "it is incomplete (the job was stopped while saving it)"
        else:
            why = mismatch(read_record(path), expected)
        if why is not None:
            stale.append((path, why))
        elif resume is None:
            resume = path
    return stale, resume


class RecordCallback(TrainerCallback):  # type: ignore[misc]
    """Writes the job's record into each checkpoint the Trainer has just saved (rank 0, as HF saves)."""

    def __init__(self, output_dir: Path, record: dict[str, Any]) -> None:
        self.output_dir, self.record = output_dir, record

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        checkpoint = self.output_dir / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and checkpoint.is_dir():
            write_record(checkpoint, self.record)
