"""The paper's multi-GPU setting by default: strategy fsdp, full shard with one FSDP unit per decoder
layer (the class read from the model's own `_no_split_modules`) when more than one process trains;
a single process trains plainly; ddp stays selectable. No GPU here: these check the arguments the
training script hands the Trainer (the Trainer ignores FSDP on CPU, so a CPU run cannot show it)."""

from __future__ import annotations

from pathlib import Path

from lion_cli.config import parse_settings
from lion_cli.pipeline.student_specs import specs_from_settings
from lion_cli.student.specs import TrainSpec
from lion_cli.student.specs.train import decoder_layer_classes, fsdp_arguments


def test_the_default_strategy_is_fsdp_in_the_spec_and_the_config(tmp_path: Path) -> None:
    assert TrainSpec("m", "d", "o").strategy == "fsdp"
    settings = parse_settings({"student": {"nproc_per_node": 8}})
    spec, launch = specs_from_settings(settings, model_path="m", data_path=tmp_path / "d.jsonl", output_dir=tmp_path)
    assert spec.strategy == "fsdp" and launch.nproc_per_node == 8
    assert parse_settings({"student": {"strategy": "ddp"}}).student.strategy == "ddp"


def test_fsdp_shards_fully_and_wraps_the_decoder_layers_when_several_processes_train() -> None:
    assert fsdp_arguments("fsdp", 8, ["LlamaDecoderLayer"]) == {
        "fsdp": "full_shard auto_wrap", "fsdp_config": {"transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"]}}
    assert fsdp_arguments("fsdp", 1, ["LlamaDecoderLayer"]) == {}   # one process: nothing to shard
    assert fsdp_arguments("ddp", 8, ["LlamaDecoderLayer"]) == {}
    assert fsdp_arguments("zero3", 8, ["LlamaDecoderLayer"]) == {}


def test_the_wrapped_class_is_the_model_s_own_decoder_layer(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert decoder_layer_classes(model) == ["LlamaDecoderLayer"] == list(model._no_split_modules)
    assert type(model.model.layers[0]).__name__ == "LlamaDecoderLayer"

    class NoHint:   # a model without the hint: the class of its first layer
        pass

    bare = NoHint()
    bare.model = model.model  # type: ignore[attr-defined]
    assert decoder_layer_classes(bare) == ["LlamaDecoderLayer"]
