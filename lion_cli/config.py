"""lion.toml → validated settings.

Every error names the file, the key and what was expected, so a user can fix a config without
reading code. Unknown keys are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from lion_cli.core.api import EndpointSpec
from lion_cli.core.loop_protocol import loop_protocol
from lion_cli.core.prices import PRICE_KEYS, price_problem
from lion_cli.core.types import ENDPOINT_ROLES, Role
from lion_cli.core.value_checks import (
    Problem,
    api_key_env_problem,
    host_port_problem,
    name_problem,
    not_blank_problem,
    shown_url,
    url_problem,
)
from lion_cli.student.specs import (
    LORA_TARGET_MODULES,
    DPOLoss,
    DPOSpec,
    GenBackend,
    GenSpec,
    LaunchConfig,
    Launcher,
    LoraSpec,
    LrScheduler,
    Objective,
    Precision,
    PromptFormat,
    Sgo,
    TrainSpec,
    distillation_problems,
    sgo_strategy_problem,
)

CONFIG_NAME = "lion.toml"
_V = TypeVar("_V")
DB_NAME = "lion.db"


class ConfigError(Exception):
    """Config problems a user must fix, all of them at once; the CLI prints one line per problem and
    exits with code 2."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


class _Strict(BaseModel):
    # strict: TOML has real types, so `iterations = "3"` or `tf32 = 1` is a mistake to report, not to
    # coerce (an int is still accepted where a float is expected). TOML also spells nan and inf: no
    # setting means anything with them.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


def _passes(check: Callable[[str], str | None]) -> AfterValidator:
    """A value check from core.value_checks as a validator: its message becomes the key's error."""

    def validate(value: str) -> str:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


NonBlank = Annotated[str, _passes(not_blank_problem)]


def _top_k_value(value: Any) -> Any:
    """One message for both shapes a top_k takes (a union's errors would name each branch)."""
    if value == "protocol" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError('expected a whole number ≥ 0 (0 = off) or "protocol"')


TopK = Annotated[int | Literal["protocol"], BeforeValidator(_top_k_value)]
HostPort = Annotated[str, _passes(host_port_problem)]


class ProjectSettings(_Strict):
    name: NonBlank = "lion-project"
    seed_file: str = ""
    data_dir: str = ""


class LoopSettings(_Strict):
    iterations: int = Field(3, ge=1)
    new_per_iteration: int = Field(6000, ge=1)
    hard_ratio: float = Field(0.5, ge=0.0, le=1.0)
    tau: float = Field(1.0, ge=0.0, le=9.0)
    novelty_threshold: float = Field(0.7, gt=0.0, le=1.0)
    # numpy and torch take seeds in [0, 2**32): the student's jobs are seeded from this.
    rng_seed: int = Field(42, ge=0, lt=2**32)
    # The paper's "70K examples in total" is training from the base on everything so far; the
    # alternative continues from the previous student on the new instructions only.
    train_from: Literal["base", "previous"] = "base"
    # The generator is asked at most this many times the quota before the stage gives up.
    max_attempts_factor: float = Field(3.0, ge=1.0)
    referee_retries: int = Field(1, ge=0, le=5)
    # "paper": the official Lion code's prompts and rules; "lion": lion's own (core/loop_protocol.py).
    protocol: Literal["paper", "lion"] = "paper"


# The [teacher], [referee] and [generator] sections are core.api.EndpointSpec itself (its fields,
# defaults and bounds); a role differs from it only in these values.
ROLE_DEFAULTS: dict[Role, dict[str, Any]] = {
    Role.TEACHER: {"temperature": 0.7, "max_tokens": 1024},
    Role.REFEREE: {"temperature": 0.2, "max_tokens": 512},
    Role.GENERATOR: {"temperature": 1.0, "max_tokens": 512},
    # Vicuna-80's judge (`lion eval vicuna`): GPT-4 in the paper, at the temperature of Vicuna's own reviews.
    Role.JUDGE: {"model": "gpt-4", "temperature": 0.2, "max_tokens": 512},
}


def _endpoint_default(role: Role) -> Any:
    return Field(default_factory=lambda: EndpointSpec(**ROLE_DEFAULTS[role]))


# The [student] defaults are the job specs' own (lion_cli/student/specs/), so a default is written once.
class LoraSettings(_Strict):
    enabled: bool = LoraSpec.enabled
    r: int = Field(LoraSpec.r, ge=1)
    alpha: int = Field(LoraSpec.alpha, ge=1)
    dropout: float = Field(LoraSpec.dropout, ge=0.0, lt=1.0)
    target_modules: list[NonBlank] = Field(default_factory=lambda: list(LORA_TARGET_MODULES), min_length=1)


class StudentGeneration(_Strict):
    temperature: float = Field(GenSpec.temperature, ge=0.0, le=2.0)
    top_p: float = Field(GenSpec.top_p, gt=0.0, le=1.0)
    # "protocol": the loop protocol's (50 under "paper", off under "lion"); a number: that (0 = off).
    top_k: TopK = "protocol"
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
    rdzv_endpoint: HostPort = LaunchConfig.rdzv_endpoint
    hostfile: str = LaunchConfig.hostfile
    # fsdp (the default, the paper's: full shard when more than one process trains), ddp, zero2, zero3,
    # zero3_offload, or a path to a DeepSpeed JSON config.
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
    # White-box distillation: a divergence from teacher_model's token distributions instead of SFT's
    # cross-entropy (student/scripts/kd_losses.py); teacher_model is a local folder, relative to lion.toml's.
    objective: Objective = TrainSpec.objective
    skew_alpha: float = Field(TrainSpec.skew_alpha, ge=0.0, le=1.0)
    teacher_model: str = Field(TrainSpec.teacher_model, validate_default=True)
    # The training data's last rows held out and scored (KL to the teacher) at each checkpoint, and the
    # student-generated outputs that follow that score (student/scripts/sgo.py; off by default, as in DistiLLM's
    # baseline).
    heldout_rows: int = Field(TrainSpec.heldout_rows, ge=0)
    sgo: Sgo = Field(TrainSpec.sgo, validate_default=True)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    generation: StudentGeneration = Field(default_factory=StudentGeneration)

    @field_validator("teacher_model")
    @classmethod
    def _teacher_for_divergence(cls, value: str, info: ValidationInfo) -> str:
        return _distillation_checked("teacher_model", value, info, teacher_model=value)

    @field_validator("heldout_rows")
    @classmethod
    def _heldout_for_divergence(cls, value: int, info: ValidationInfo) -> int:
        return _distillation_checked("heldout_rows", value, info, heldout_rows=value)

    @field_validator("sgo")
    @classmethod
    def _sgo_for_divergence(cls, value: str, info: ValidationInfo) -> str:
        _distillation_checked("sgo", value, info, sgo=value)
        processes = info.data.get("nproc_per_node", 1) * info.data.get("nnodes", 1)
        if problem := sgo_strategy_problem(value, info.data.get("strategy", TrainSpec.strategy), processes,
                                           prefix="student."):
            raise ValueError(problem)
        return value


def _distillation_checked(key: str, value: _V, info: ValidationInfo, **given: Any) -> _V:
    """`value` of [student] `key`, unless the distillation rules (student/specs/train.py) refuse it with
    the keys validated before it (info.data)."""
    keys: dict[str, Any] = {k: info.data[k] for k in ("teacher_model", "heldout_rows", "packing") if k in info.data}
    keys.update(given)
    problems = distillation_problems(info.data.get("objective", TrainSpec.objective), **keys, prefix="student.")
    if key in problems:
        raise ValueError(problems[key])
    return value


class VicunaSettings(_Strict):
    # Setting 2 (Multiple Evidence Calibration): the judge writes its evidence, then its scores, this many
    # times per order, sampled at evidence_temperature so the samples differ.
    evidence_samples: int = Field(3, ge=1, le=10)
    evidence_temperature: float = Field(1.0, ge=0.0, le=2.0)


class PreferenceSettings(_Strict):
    """The preference stage (DPO on the referee's judgements, the LIONs pipeline's step after SFT)."""

    enabled: bool = False
    # "each": after every iteration's imitation, from that iteration's student; "final": once, after the
    # last iteration's imitation.
    when: Literal["each", "final"] = "each"
    # A pair is (chosen = the teacher's answer, rejected = the student's) where the referee's averaged gap
    # (teacher − student, both orders) is at least this; "tau" takes [loop] tau. Unscored items never pair.
    margin: float | str = "tau"
    beta: float = Field(DPOSpec.beta, gt=0.0)
    loss_type: DPOLoss = DPOSpec.loss_type
    lr: float = Field(DPOSpec.lr, gt=0.0)
    epochs: float = Field(DPOSpec.epochs, gt=0.0)
    global_batch_size: int = Field(DPOSpec.global_batch_size, ge=1)
    per_device_batch_size: int = Field(DPOSpec.per_device_batch_size, ge=1)
    max_length: int = Field(DPOSpec.max_length, ge=16)
    max_pairs: int = Field(0, ge=0)  # 0 = every pair; else the pairs with the widest gaps first
    precompute_ref: bool = DPOSpec.precompute_ref
    # Online DPO: after the stage's DPO on judged pairs (or alone, with enabled = false), `online_rounds`
    # rounds in which the current student samples `online_samples` answers per prompt, the referee scores
    # each against the teacher's answer, and best vs worst become a pair where their gap ≥ online_margin.
    online: bool = False
    online_samples: int = 2
    online_rounds: int = Field(1, ge=1)
    online_prompts: Literal["hard", "cache"] = "hard"
    online_margin: float | str = "tau"
    online_temperature: float = Field(1.0, gt=0.0, le=2.0)

    @field_validator("online_samples")
    @classmethod
    def _at_least_two_samples(cls, value: int) -> int:
        if value < 2:
            raise ValueError("expected at least 2 (a pair needs a best and a worst sample)")
        return value

    @field_validator("margin", "online_margin")
    @classmethod
    def _margin_in_range(cls, value: float | str) -> float | str:
        if value != "tau" and (isinstance(value, str) or not 0.0 <= value <= 9.0):
            raise ValueError("expected a number in [0, 9] (a score gap) or \"tau\"")
        return value

    def pair_margin(self, tau: float) -> float:
        return tau if self.margin == "tau" else float(self.margin)

    def online_pair_margin(self, tau: float) -> float:
        return tau if self.online_margin == "tau" else float(self.online_margin)


class BudgetSettings(_Strict):
    # 0 means no cap. When the spend reaches the cap the run pauses cleanly; raise it and resume.
    max_usd: float = Field(0.0, ge=0.0)


class Settings(BaseModel):
    # Not strict itself: its sections are strict, and an EndpointSpec section must be accepted from
    # a TOML table (pydantic's strict mode would want an instance).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    project: ProjectSettings = Field(default_factory=ProjectSettings)
    loop: LoopSettings = Field(default_factory=LoopSettings)
    teacher: EndpointSpec = _endpoint_default(Role.TEACHER)
    referee: EndpointSpec = _endpoint_default(Role.REFEREE)
    generator: EndpointSpec = _endpoint_default(Role.GENERATOR)
    judge: EndpointSpec = _endpoint_default(Role.JUDGE)
    vicuna: VicunaSettings = Field(default_factory=VicunaSettings)
    student: StudentSettings = Field(default_factory=StudentSettings)
    preference: PreferenceSettings = Field(default_factory=PreferenceSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)

    def endpoint(self, role: Role | str) -> EndpointSpec:
        role = Role(role)
        if role is Role.STUDENT:
            raise KeyError("the student is local; it has no endpoint")
        ep: EndpointSpec = getattr(self, role.value)
        return ep


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not isinstance(part, int)) or "(top level)"


def _section_keys(key: str) -> list[str]:
    """The keys a misspelt `key` could have meant: those of its section (or the section names)."""
    *path, _ = key.split(".")
    node: Any = Settings
    for part in path:
        hints = node.model_fields if isinstance(node, type) and issubclass(node, BaseModel) else {}
        node = hints[part].annotation if part in hints else None
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return [f.name for f in fields(node)] if node is EndpointSpec else []


def _unknown_key(source: str, key: str) -> Problem:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], _section_keys(key), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return Problem(source, key, f"unknown key '{key}'{hint}", keyed=False)


def _explain(err: Mapping[str, Any], source: str) -> Problem:
    key = _format_loc(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return _unknown_key(source, key)
    if kind == "missing":
        return Problem(source, key, f"missing key '{key}'", keyed=False)
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind in ("model_type", "dataclass_type"):
        msg = f"expected a table ([{key}] section)"
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return Problem(source, key, f"{msg}{shown}")


# Endpoint values a type cannot check; api_key_env is never echoed (it may hold a pasted key).
_ENDPOINT_VALUE_CHECKS = {"base_url": url_problem, "model": name_problem, "api_key_env": api_key_env_problem}


def _endpoint_value_problems(data: Mapping[str, Any], source: str) -> list[Problem]:
    """Read from the raw tables, so they are reported together with any type error elsewhere."""
    problems = []
    for role in ENDPOINT_ROLES:
        section = data.get(role.value)
        if not isinstance(section, dict):
            continue
        for key in PRICE_KEYS:
            message = price_problem(section[key]) if key in section else None
            if message:
                problems.append(Problem(source, f"{role.value}.{key}", f"{message} (got {section[key]!r})"))
        for key, check in _ENDPOINT_VALUE_CHECKS.items():
            value = section.get(key)
            if not isinstance(value, str):
                continue  # a wrong type is pydantic's to report
            message = check(value)
            if message:
                shown = "" if key == "api_key_env" else f" (got {shown_url(value)!r})"
                problems.append(Problem(source, f"{role.value}.{key}", message + shown))
    judge = data.get(Role.JUDGE.value)
    if isinstance(judge, dict) and judge.get("mode") == "batch":  # a setting that would do nothing
        problems.append(Problem(source, "judge.mode", '`lion eval vicuna` asks the judge online: expected "online"'
                                " (batch mode is for the loop's teacher, referee and generator)"))
    return problems


def parse_settings(data: dict[str, Any], source: str = CONFIG_NAME) -> Settings:
    problems = _endpoint_value_problems(data, source)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # A price is a number or "auto": pydantic's two-branch union errors say less than ours above.
        errors = [e for e in exc.errors() if not (len(e["loc"]) > 1 and e["loc"][1] in PRICE_KEYS)]
        raise ConfigError([_explain(e, source) for e in errors] + problems) from None
    if problems:
        raise ConfigError(problems)
    return settings


def _key_on_line(text: str, message: str) -> str:
    """The key set on the line a TOML error points at (never its value: it could be a pasted key)."""
    found = re.search(r"at line (\d+)", message)
    lines = text.splitlines()
    if not found or not 0 < int(found[1]) <= len(lines) or "=" not in lines[int(found[1]) - 1]:
        return ""
    key = lines[int(found[1]) - 1].partition("=")[0].strip()
    return f" (the line setting '{key}')" if key else ""


def _read_toml(path: Path) -> dict[str, Any]:
    def refuse(message: str) -> ConfigError:
        return ConfigError([Problem(str(path), "", message)])

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except IsADirectoryError:
        raise refuse("is a folder; expected the project's TOML file") from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise refuse(f"invalid TOML: {exc}{_key_on_line(text, str(exc))}") from None


def load_settings(path: Path) -> Settings:
    """Read and validate a lion.toml; a ConfigError names the file, line or key."""
    if path.is_dir() and path.name != CONFIG_NAME:
        path = path / CONFIG_NAME
    if not path.exists():
        raise ConfigError([Problem(str(path), "", "not found (run `lion init` to create a project)")])
    return parse_settings(_read_toml(path), str(path))


def resolve_path(project_dir: Path, value: str) -> Path:
    """Paths in lion.toml are relative to the folder that holds it (never to the working directory),
    so a copied or moved project finds its own files: seed_file, data_dir, student.base_model,
    student.strategy (a .json path), student.hostfile and student.teacher_model."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (project_dir / p)


def student_top_k(settings: Settings) -> int:
    """student.generation.top_k as the jobs take it: "protocol" is the loop protocol's value."""
    top_k = settings.student.generation.top_k
    return loop_protocol(settings.loop.protocol).student_top_k if top_k == "protocol" else top_k


def model_location(project_dir: Path, value: str) -> str:
    """student.base_model as the jobs take it: a folder (relative to lion.toml's folder) when there is
    one there or the value is written as a path; otherwise a Hugging Face hub id, as it is."""
    path = resolve_path(project_dir, value)
    if path.exists() or value.startswith((".", "/", "~")):
        return str(path)
    return value
