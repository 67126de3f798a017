"""lion.toml's [student] settings → the student layer's specs (TrainSpec, GenSpec, LaunchConfig).

The one place that maps config onto the student adapter, shared by the pipeline and `lion student`.
"""

from __future__ import annotations

from pathlib import Path

from lion_cli.config import Settings, resolve_path, student_top_k
from lion_cli.student.specs import GenSpec, LaunchConfig, LoraSpec, TrainSpec


def train_spec(settings: Settings, *, model_path: str | Path, data_path: Path, output_dir: Path,
               max_steps: int | None = None) -> TrainSpec:
    s = settings.student
    lo = s.lora
    return TrainSpec(
        model_path=str(model_path), data_path=str(data_path), output_dir=str(output_dir),
        prompt_format=s.prompt_format, epochs=s.epochs, lr=s.lr, lr_scheduler=s.lr_scheduler,
        warmup_ratio=s.warmup_ratio, weight_decay=s.weight_decay, global_batch_size=s.global_batch_size,
        per_device_batch_size=s.per_device_batch_size, max_length=s.max_length, precision=s.precision,
        tf32=s.tf32, gradient_checkpointing=s.gradient_checkpointing, packing=s.packing, strategy=s.strategy,
        lora=LoraSpec(enabled=lo.enabled, r=lo.r, alpha=lo.alpha, dropout=lo.dropout,
                      target_modules=list(lo.target_modules)),
        save_steps=s.save_steps, seed=settings.loop.rng_seed, max_steps=max_steps,
        objective=s.objective, skew_alpha=s.skew_alpha, teacher_model=s.teacher_model,
        heldout_rows=s.heldout_rows, sgo=s.sgo)


def launch_config(settings: Settings, *, for_generation: bool = False, project_dir: Path | None = None) -> LaunchConfig:
    """The launcher for training, or for generation (data parallel only: DeepSpeed's launcher is for
    training, so generation runs under torchrun when several processes are asked for)."""
    s = settings.student
    launcher = s.launcher
    if for_generation and launcher == "deepspeed":
        launcher = "torchrun"
    if launcher == "python" and s.nproc_per_node * s.nnodes > 1:
        launcher = "torchrun"
    hostfile = s.hostfile
    if hostfile and project_dir is not None:
        hostfile = str(resolve_path(project_dir, hostfile))
    return LaunchConfig(launcher=launcher, nproc_per_node=s.nproc_per_node, nnodes=s.nnodes, node_rank=s.node_rank,
                        rdzv_endpoint=s.rdzv_endpoint, hostfile=hostfile)


def specs_from_settings(settings: Settings, *, model_path: str | Path, data_path: Path, output_dir: Path,
                        project_dir: Path | None = None, max_steps: int | None = None,
                        ) -> tuple[TrainSpec, LaunchConfig]:
    """Training spec + launcher from the [student] settings. A strategy given as a relative .json path,
    and a relative teacher_model, are resolved against the project folder."""
    spec = train_spec(settings, model_path=model_path, data_path=data_path, output_dir=output_dir,
                      max_steps=max_steps)
    if spec.strategy.endswith(".json") and project_dir is not None:
        spec.strategy = str(resolve_path(project_dir, spec.strategy))
    if spec.teacher_model and project_dir is not None:
        spec.teacher_model = str(resolve_path(project_dir, spec.teacher_model))
    return spec, launch_config(settings, project_dir=project_dir)


def gen_spec(settings: Settings, *, model_path: Path, input_path: Path, output_path: Path) -> GenSpec:
    g = settings.student.generation
    return GenSpec(model_path=str(model_path), input_path=str(input_path), output_path=str(output_path),
                   prompt_format=settings.student.prompt_format, max_new_tokens=g.max_new_tokens,
                   temperature=g.temperature, top_p=g.top_p, top_k=student_top_k(settings), batch_size=g.batch_size,
                   base_seed=settings.loop.rng_seed, backend=g.backend)
