"""The generation entry script as real subprocesses: 1 vs 2 torchrun processes, kill and restart, bad specs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lion_cli.student.jobs import generate, read_outputs, write_inputs
from lion_cli.student.scripts import generate as script
from lion_cli.student.specs import GenSpec, LaunchConfig

TOPICS = ["basil", "a budget", "the train", "sleep", "a log file", "bread dough", "the moon", "a meeting"]


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        row = {"id": f"q{i}", "instruction": f"Give {i % 5 + 1} tips about {TOPICS[i % len(TOPICS)]}."}
        if i % 3 == 0:
            row["input"] = f"Keep it under {10 + i} words."
        if i % 4 == 0:
            row["seed"] = 1000 + i  # a row's own seed wins over base_seed
        rows.append(row)
    return rows


def _spec(tmp: Path, model: Path, name: str, **kw) -> GenSpec:
    return GenSpec(model_path=str(model), input_path=str(tmp / "in.jsonl"), output_path=str(tmp / name / "out.jsonl"),
                   prompt_format=kw.pop("prompt_format", "alpaca"), max_new_tokens=kw.pop("max_new_tokens", 24),
                   temperature=0.7, top_p=0.95, batch_size=kw.pop("batch_size", 8), base_seed=7, dtype="fp32", **kw)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("gen")
    write_inputs(tmp / "in.jsonl", _rows(40))
    return tmp


@pytest.fixture(scope="module")
def reference(workdir: Path, tiny_model_dir: Path) -> dict:
    """One plain-python process, batch 8: the answers every other run must reproduce."""
    seen: list[tuple[int, int]] = []
    out = generate(_spec(workdir, tiny_model_dir, "one"), LaunchConfig(), on_progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (40, 40)
    return out


@pytest.mark.slow
def test_two_torchrun_processes_return_every_row_once_identical_to_one(workdir, tiny_model_dir, reference) -> None:
    spec = _spec(workdir, tiny_model_dir, "two")
    out = generate(spec, LaunchConfig(launcher="torchrun", nproc_per_node=2))
    lines = Path(spec.output_path).read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == [f"q{i}" for i in range(40)]  # every row exactly once, in input order
    assert out == reference
    # Both ranks really worked: each wrote its own half.
    parts = sorted(Path(spec.output_path + ".parts").glob("*/part-*.jsonl"))
    assert [p.name for p in parts] == ["part-0.jsonl", "part-1.jsonl"]
    assert [len(p.read_text().splitlines()) for p in parts] == [20, 20]
    assert reference["q0"]["seed"] == 1000  # a row's own seed wins over base_seed
    for row in reference.values():
        # A random model may emit EOS early ("stop", EOS counted) or run to the limit ("length").
        ok = (row["finish_reason"] == "length" and row["completion_tokens"] == 24) or (
            row["finish_reason"] == "stop" and 1 <= row["completion_tokens"] <= 24)
        assert ok, row
        assert row["prompt_tokens"] > 5
    assert sum(row["finish_reason"] == "length" for row in reference.values()) >= 20
    assert len({r["text"] for r in reference.values()}) == 40


@pytest.mark.slow
def test_a_killed_run_keeps_its_rows_and_a_restart_completes(workdir, tiny_model_dir, reference) -> None:
    # Batch size 2 here vs 8 in the reference: answers do not depend on the batch.
    spec = _spec(workdir, tiny_model_dir, "killed", batch_size=2)
    Path(spec.output_path).parent.mkdir(parents=True)
    spec.spec_path.write_text(spec.to_json())
    proc = subprocess.Popen([sys.executable, "-m", "lion_cli.student.scripts.generate", "--spec", str(spec.spec_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    parts = Path(spec.output_path + ".parts")
    deadline = time.monotonic() + 120
    before: list[dict] = []
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(parts.glob("*/part-0.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 6:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            before = [json.loads(line) for line in found[0].read_text().splitlines()]
            # A kill in the middle of a write leaves a torn line; the restart must cope with it.
            with found[0].open("a") as fh:
                fh.write('{"id": "q39", "text": "half a li')
            break
        time.sleep(0.02)
    assert before, "the run finished (or never started) before it could be killed"
    assert 6 <= len(before) < 40
    assert not Path(spec.output_path).exists()

    spec.batch_size = 16  # the batch size does not change answers, so the restart reuses the rows
    out = generate(spec, LaunchConfig())
    assert len(out) == 40 and out == reference
    progress = [json.loads(line) for line in spec.progress_path.read_text().splitlines()]
    assert progress[0] == {"event": "start", "rank": 0, "shard": 40, "already": len(before)}
    assert sum(p["rows"] for p in progress if p["event"] == "batch") == 40 - len(before)
    for row in before:
        assert out[row["id"]] == row


def test_chat_raw_and_raw_formats(workdir, tiny_model_dir) -> None:
    rows = [{"id": 1, "prompt": "How do I water basil?"},
            {"id": 2, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}]
    write_inputs(workdir / "chat.jsonl", rows)
    spec = GenSpec(model_path=str(tiny_model_dir), input_path=str(workdir / "chat.jsonl"),
                   output_path=str(workdir / "chat" / "out.jsonl"), prompt_format="chat_raw", max_new_tokens=5,
                   temperature=0.0)
    out = generate(spec, LaunchConfig())
    assert read_outputs(Path(spec.output_path)) == out
    assert set(out) == {1, 2}  # integer ids stay integers
    # chat template: "<|user|>\nHow do I water basil?</s>\n<|assistant|>\n", no BOS added
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = tok.apply_chat_template([rows[0] | {"role": "user", "content": rows[0]["prompt"]}],
                                   add_generation_prompt=True, tokenize=False)
    assert out[1]["prompt_tokens"] == len(tok(text, add_special_tokens=False).input_ids)


def _run_main(tmp: Path, spec: dict, capsys) -> tuple[int, str]:
    path = tmp / "spec.json"
    path.write_text(json.dumps(spec))
    code = script.main(["--spec", str(path)])
    return code, capsys.readouterr().err


def test_bad_specs_and_inputs_exit_2_naming_the_problem(tmp_path: Path, capsys) -> None:
    base = {"model_path": "m", "input_path": str(tmp_path / "in.jsonl"), "output_path": str(tmp_path / "o.jsonl")}
    code, err = _run_main(tmp_path, {**base, "temprature": 0.5}, capsys)
    assert code == 2 and "temprature" in err and "spec.json" in err
    code, err = _run_main(tmp_path, {**base, "prompt_format": "xml"}, capsys)
    assert code == 2 and "'prompt_format'" in err
    code, err = _run_main(tmp_path, {"input_path": "x", "output_path": "y"}, capsys)
    assert code == 2 and "'model_path'" in err

    (tmp_path / "in.jsonl").write_text('{"id": 1, "instruction": "a"}\n{"id": 1, "instruction": "b"}\n')
    code, err = _run_main(tmp_path, base, capsys)
    assert code == 2 and "in.jsonl:2" in err and "duplicate id" in err
    (tmp_path / "in.jsonl").write_text('{"id": 1, "prompt": "a"}\n')
    code, err = _run_main(tmp_path, base, capsys)
    assert code == 2 and "in.jsonl:1" in err and "instruction" in err
    (tmp_path / "in.jsonl").write_text('{"id": 1, "instruction": "a"}\nnot json\n')
    code, err = _run_main(tmp_path, base, capsys)
    assert code == 2 and "in.jsonl:2" in err and "not valid JSON" in err


def test_vllm_backend_is_import_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where vLLM cannot be imported (here it is not installed; None in sys.modules makes the import
    # fail even where it is), asking for it fails with a clear message instead of a traceback.
    from lion_cli.student.scripts import vllm_backend

    monkeypatch.setitem(sys.modules, "vllm", None)
    assert not vllm_backend.vllm_available()
    spec = GenSpec(model_path="m", input_path="i", output_path="o", backend="vllm")
    with pytest.raises(RuntimeError, match="import vllm"):
        next(vllm_backend.generate_rows(spec, [{"id": 1, "instruction": "hi"}]))
