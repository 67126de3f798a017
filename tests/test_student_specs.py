"""The job specs: a JSON round trip that names a missing, unknown or bad key, one validate() for the
parent and the scripts, and the [student] settings' defaults being the specs' own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lion_cli.config import Settings
from lion_cli.pipeline.student_specs import gen_spec, launch_config, train_spec
from lion_cli.student.specs import GenSpec, LaunchConfig, LoraSpec, ScoreSpec, SpecError, TrainSpec


def _data(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n", encoding="utf-8")
    return path


def test_json_round_trip_keeps_every_field(tmp_path: Path) -> None:
    spec = TrainSpec("m", str(_data(tmp_path)), "o", prompt_format="chat", lr=1e-4, max_steps=7,
                     lora=LoraSpec(enabled=True, r=4, target_modules=["q_proj"]))
    assert TrainSpec.from_json(spec.to_json()) == spec
    gen = GenSpec("m", "in.jsonl", "out.jsonl", prompt_format="chat_raw", temperature=0.0, backend="vllm")
    assert GenSpec.read(gen.write(tmp_path / "gen.json")) == gen
    score = ScoreSpec("m", "in.jsonl", "out.jsonl", prompt_format="raw", batch_size=3)
    assert ScoreSpec.from_json(score.to_json()) == score
    # JSON writes a whole float as an integer: it reads back as the float it was.
    back = GenSpec.from_json(json.dumps({"model_path": "m", "input_path": "i", "output_path": "o", "top_p": 1}))
    assert back.top_p == 1.0 and isinstance(back.top_p, float)


@pytest.mark.parametrize(("raw", "needle"), [
    ({"input_path": "i", "output_path": "o"}, "gen.json: missing key(s) ['model_path']"),
    ({"model_path": "m", "input_path": "i", "output_path": "o", "temprature": 0.5}, "unknown key(s) ['temprature']"),
    ({"model_path": "m", "input_path": "i", "output_path": "o", "prompt_format": "xml"},
     "key 'prompt_format': expected one of alpaca, chat, raw, chat_raw, got 'xml'"),
    ({"model_path": "m", "input_path": "i", "output_path": "o", "top_k": 2.5}, "key 'top_k': expected an integer"),
    ({"model_path": "m", "input_path": "i", "output_path": "o", "batch_size": True}, "key 'batch_size'"),
    ({"model_path": "m", "input_path": "i", "output_path": "o", "top_p": 0}, "key 'top_p': expected a value in (0, 1]"),
    ({"model_path": "", "input_path": "i", "output_path": "o"}, "key 'model_path': expected a non-empty string"),
])
def test_reading_a_bad_spec_names_the_key(raw: dict, needle: str) -> None:
    with pytest.raises(SpecError) as info:
        GenSpec.from_json(json.dumps(raw), "gen.json")
    assert needle in str(info.value) and str(info.value).startswith("gen.json: ")


def test_nested_lora_keys_are_named_with_their_section(tmp_path: Path) -> None:
    base = {"model_path": "m", "data_path": str(_data(tmp_path)), "output_dir": "o"}
    with pytest.raises(SpecError, match=r"unknown key\(s\) \['lora.rank'\]"):
        TrainSpec.from_dict({**base, "lora": {"rank": 4}})
    with pytest.raises(SpecError, match=r"key 'lora\.dropout': expected a value in"):
        TrainSpec.from_dict({**base, "lora": {"dropout": 1.5}})
    with pytest.raises(SpecError, match="key 'lora': expected a JSON object"):
        TrainSpec.from_dict({**base, "lora": True})
    with pytest.raises(SpecError, match="cannot read the spec as JSON"):
        TrainSpec.from_json("{not json", "spec.json")


def test_one_validate_for_both_sides(tmp_path: Path) -> None:
    """What the parent checks before launching is what reading the spec in the script checks."""
    spec = TrainSpec("m", str(_data(tmp_path)), "o", precision="fp8")
    with pytest.raises(SpecError, match="key 'precision'") as parent:
        spec.validate()
    with pytest.raises(SpecError, match="key 'precision'") as script:
        TrainSpec.read(spec.write(tmp_path / "spec.json"))
    assert str(script.value) == f"{tmp_path / 'spec.json'}: {parent.value}"
    with pytest.raises(SpecError, match="launcher 'python' runs one process"):
        LaunchConfig("python", nproc_per_node=2)


def test_student_settings_defaults_are_the_specs_defaults(tmp_path: Path) -> None:
    """lion.toml's [student] defaults map onto specs equal to the specs' own defaults: a default
    written again in config.py with another value fails here."""
    settings = Settings()
    seed = settings.loop.rng_seed
    paths = {"model_path": "m", "data_path": "d", "output_dir": "o"}
    assert train_spec(settings, **paths) == TrainSpec(**paths, seed=seed)
    gen = gen_spec(settings, model_path=Path("m"), input_path=Path("i"), output_path=Path("o"))
    # top_k is the loop protocol's ("protocol"): 50 under the default "paper", GenSpec's own (off) under "lion".
    assert gen == GenSpec("m", "i", "o", base_seed=seed, top_k=50)
    settings.loop.protocol = "lion"
    assert gen_spec(settings, model_path=Path("m"), input_path=Path("i"), output_path=Path("o")) == GenSpec(
        "m", "i", "o", base_seed=seed)
    launch = launch_config(settings)
    assert (launch.nproc_per_node, launch.nnodes, launch.node_rank, launch.rdzv_endpoint, launch.hostfile) == (
        LaunchConfig.nproc_per_node, LaunchConfig.nnodes, LaunchConfig.node_rank, LaunchConfig.rdzv_endpoint,
        LaunchConfig.hostfile)
