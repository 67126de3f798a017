"""The student's job specs, each declared once: what a training, generation or scoring job is asked
to do (train.TrainSpec with its LoraSpec, generate.GenSpec, score.ScoreSpec) and how it is launched
(launch.LaunchConfig); the choices their keys take are in choices.py, what they share in base.py.

Stdlib only, and nothing else of lion: the launch side (jobs.py) writes a spec as JSON next to the
job's output, the subprocess entry scripts (lion_cli.student.scripts) read it back with
`Spec.read(path)`, and config.py takes the defaults of its [student] settings from these classes.
So a default written here is THE default; nowhere else in lion repeats its value.

One validation, `validate()`, serves both sides: the parent calls it before launching anything, and
reading a spec calls it too. Types come from the annotations (a Literal lists the choices), ranges
from each class's `limits`; every error names the key.

A new kind of job (distillation ...) is a module here with a dataclass deriving from Spec (or from a
spec it extends, as dpo.DPOSpec extends TrainSpec): its path fields first (no default: a JSON spec
must give them), then its settings with their defaults, a `limits` table, and a `validate()` that
calls `super().validate()` before its own cross-field checks.
The JSON round trip (`to_json` / `from_json` / `read`) comes with Spec. Export it below.
"""

from lion_cli.student.specs.base import Spec, SpecError
from lion_cli.student.specs.choices import (
    DEEPSPEED_STRATEGIES,
    DTYPES,
    GEN_BACKENDS,
    GEN_PROMPT_FORMATS,
    LAUNCHERS,
    LORA_TARGET_MODULES,
    OBJECTIVES,
    PROMPT_FORMATS,
    STRATEGIES,
    DType,
    GenBackend,
    GenPromptFormat,
    Launcher,
    LrScheduler,
    Objective,
    Precision,
    PromptFormat,
    ScorePromptFormat,
    Sgo,
)
from lion_cli.student.specs.dpo import DPO_LOSSES, DPOLoss, DPOSpec
from lion_cli.student.specs.generate import GenSpec
from lion_cli.student.specs.launch import LaunchConfig
from lion_cli.student.specs.score import ScoreSpec
from lion_cli.student.specs.train import (
    BatchSizeError,
    LoraSpec,
    TrainSpec,
    distillation_problems,
    grad_accum_steps,
    sgo_strategy_problem,
)

__all__ = [
    "DEEPSPEED_STRATEGIES", "DPO_LOSSES", "DTYPES", "GEN_BACKENDS", "GEN_PROMPT_FORMATS", "LAUNCHERS",
    "LORA_TARGET_MODULES", "OBJECTIVES", "PROMPT_FORMATS", "STRATEGIES", "BatchSizeError", "DPOLoss", "DPOSpec",
    "DType", "GenBackend", "GenPromptFormat", "GenSpec",
    "LaunchConfig", "Launcher", "LoraSpec", "LrScheduler", "Objective", "Precision", "PromptFormat",
    "ScorePromptFormat",
    "ScoreSpec", "Sgo", "Spec", "SpecError", "TrainSpec", "distillation_problems", "grad_accum_steps",
    "sgo_strategy_problem",
]
