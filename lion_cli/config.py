"""lion.toml → validated settings.

Every error names the file, the key and what was expected, so a user can fix a config without
reading code. Unknown keys are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lion_cli.core.types import Role
from lion_cli.student.specs import (
    LORA_TARGET_MODULES,
    GenBackend,
    GenSpec,
    LaunchConfig,
    Launcher,
    LoraSpec,
    LrScheduler,
    Precision,
    PromptFormat,
    TrainSpec,
)

CONFIG_NAME = "lion.toml"
DB_NAME = "lion.db"


class ConfigError(Exception):
    """A config problem a user must fix; the CLI prints it and exits with code 2."""


class _Strict(BaseModel):
    # strict: TOML has real types, so `iterations = "3"` or `tf32 = 1` is a mistake to report, not to
    # coerce (an int is still accepted where a float is expected).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class ProjectSettings(_Strict):
    name: str = "lion-project"
    seed_file: str = ""
    data_dir: str = ""


class LoopSettings(_Strict):
    iterations: int = Field(3, ge=1)
    new_per_iteration: int = Field(6000, ge=1)
    hard_ratio: float = Field(0.5, ge=0.0, le=1.0)
    tau: float = Field(1.0, ge=0.0, le=9.0)
    novelty_threshold: float = Field(0.7, gt=0.0, le=1.0)
    rng_seed: int = 42
    # The paper's "70K examples in total" is training from the base on everything so far; the
    # alternative continues from the previous student on the new instructions only.
    train_from: Literal["base", "previous"] = "base"
    # The generator is asked at most this many times the quota before the stage gives up.
    max_attempts_factor: float = Field(3.0, ge=1.0)
    referee_retries: int = Field(1, ge=0, le=5)


class EndpointSettings(_Strict):
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-3.5-turbo"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    rpm: int = Field(3500, ge=1)
    tpm: int = Field(90000, ge=1)
    max_concurrency: int = Field(32, ge=1)
    price_input_per_1k: float = Field(0.0015, ge=0.0)
    price_output_per_1k: float = Field(0.002, ge=0.0)
    timeout_s: float = Field(120.0, gt=0.0)
    max_retries: int = Field(8, ge=0)

    # A field validator (not a model one) so the error names `teacher.base_url`, not just `teacher`.
    @field_validator("base_url")
    @classmethod
    def _url_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value


def _teacher() -> EndpointSettings:
    return EndpointSettings(temperature=0.7, max_tokens=1024)


def _referee() -> EndpointSettings:
    return EndpointSettings(temperature=0.2, max_tokens=512)


def _generator() -> EndpointSettings:
    return EndpointSettings(temperature=1.0, max_tokens=512)


# The [student] defaults are the job specs' own (lion_cli/student/specs.py), so a default is written once.
class LoraSettings(_Strict):
    enabled: bool = LoraSpec.enabled
    r: int = Field(LoraSpec.r, ge=1)
    alpha: int = Field(LoraSpec.alpha, ge=1)
    dropout: float = Field(LoraSpec.dropout, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(LORA_TARGET_MODULES))


class StudentGeneration(_Strict):
    temperature: float = Field(GenSpec.temperature, ge=0.0, le=2.0)
    top_p: float = Field(GenSpec.top_p, gt=0.0, le=1.0)
    top_k: int = Field(GenSpec.top_k, ge=0)
    max_new_tokens: int = Field(GenSpec.max_new_tokens, ge=1)
    batch_size: int = Field(GenSpec.batch_size, ge=1)
    backend: GenBackend = GenSpec.backend


class StudentSettings(_Strict):
    base_model: str = ""
    # A project runs its jobs under torchrun (so nproc_per_node > 1 needs nothing else); a LaunchConfig
    # built by hand runs plain python.
    launcher: Launcher = "torchrun"
    nproc_per_node: int = Field(LaunchConfig.nproc_per_node, ge=1)
    nnodes: int = Field(LaunchConfig.nnodes, ge=1)
    node_rank: int = Field(LaunchConfig.node_rank, ge=0)
    rdzv_endpoint: str = LaunchConfig.rdzv_endpoint
    hostfile: str = LaunchConfig.hostfile
    # ddp, fsdp, zero2, zero3, zero3_offload, or a path to a DeepSpeed JSON config.
    strategy: str = TrainSpec.strategy
    precision: Precision = TrainSpec.precision
    tf32: bool = TrainSpec.tf32
    gradient_checkpointing: bool = TrainSpec.gradient_checkpointing
    packing: bool = TrainSpec.packing
    prompt_format: PromptFormat = TrainSpec.prompt_format
    epochs: float = Field(TrainSpec.epochs, gt=0.0)
    lr: float = Field(TrainSpec.lr, gt=0.0)
    lr_scheduler: LrScheduler = TrainSpec.lr_scheduler
    warmup_ratio: float = Field(TrainSpec.warmup_ratio, ge=0.0, lt=1.0)
    weight_decay: float = Field(TrainSpec.weight_decay, ge=0.0)
    global_batch_size: int = Field(TrainSpec.global_batch_size, ge=1)
    per_device_batch_size: int = Field(TrainSpec.per_device_batch_size, ge=1)
    max_length: int = Field(TrainSpec.max_length, ge=16)
    save_steps: int = Field(TrainSpec.save_steps, ge=1)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    generation: StudentGeneration = Field(default_factory=StudentGeneration)


class BudgetSettings(_Strict):
    # 0 means no cap. When the spend reaches the cap the run pauses cleanly; raise it and resume.
    max_usd: float = Field(0.0, ge=0.0)


class Settings(_Strict):
    project: ProjectSettings = Field(default_factory=ProjectSettings)
    loop: LoopSettings = Field(default_factory=LoopSettings)
    teacher: EndpointSettings = Field(default_factory=_teacher)
    referee: EndpointSettings = Field(default_factory=_referee)
    generator: EndpointSettings = Field(default_factory=_generator)
    student: StudentSettings = Field(default_factory=StudentSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)

    def endpoint(self, role: Role | str) -> EndpointSettings:
        role = Role(role)
        if role is Role.STUDENT:
            raise KeyError("the student is local; it has no endpoint")
        ep: EndpointSettings = getattr(self, role.value)
        return ep


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not isinstance(part, int)) or "(top level)"


def _explain(err: dict[str, Any]) -> str:
    key = _format_loc(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown key '{key}'"
    if kind == "missing":
        return f"missing key '{key}'"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"key '{key}': {msg}{shown}"


def parse_settings(data: dict[str, Any], source: str = CONFIG_NAME) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"{source}: {_explain(dict(e))}" for e in exc.errors())
        raise ConfigError(problems) from None


def load_settings(path: Path) -> Settings:
    """Read and validate a lion.toml; a ConfigError names the file, line or key."""
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.exists():
        raise ConfigError(f"{path}: not found (run `lion init` to create a project)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_settings(data, str(path))


def resolve_path(project_dir: Path, value: str) -> Path:
    """Paths in lion.toml are relative to the folder that holds it."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (project_dir / p)
