"""Loglik mode picks the option a hand-built model prefers (tiny model taught one answer)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.bench_answers import pick_option

QUESTION = "Which animal barks?\nOptions:\n(A) cat\n(B) dog\n\nAnswer with the text of the correct option."
OPTIONS = ["cat", "dog"]


def _teach(model_dir: Path, out_dir: Path, answer: str) -> Path:
    """Copy the tiny model and train it (in-process, ~1 s) to continue QUESTION's prompt with `answer`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lion_cli.student.scripts.prompt import prompt_ids

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ctx = prompt_ids(tok, {"instruction": QUESTION}, "chat")
    ids = torch.tensor([ctx + tok(answer, add_special_tokens=False).input_ids])
    labels = ids.clone()
    labels[0, :len(ctx)] = -100
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(25):
        opt.zero_grad()
        model(input_ids=ids, labels=labels).loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def taught(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("taught")
    return {a: _teach(tiny_model_dir, root / a, a) for a in OPTIONS}


def _scores(model_dir: Path, rows: list[dict[str, Any]], batch_size: int = 16) -> list[dict[str, Any]]:
    from lion_cli.student.scripts.batch_decode import load_model
    from lion_cli.student.scripts.score import score_rows

    model, tok = load_model(str(model_dir), "fp32", "cpu")
    return score_rows(model, tok, rows, "chat", batch_size)


@pytest.mark.parametrize("answer", OPTIONS)
def test_picks_the_option_the_model_was_taught(taught: dict[str, Path], answer: str) -> None:
    row = _scores(taught[answer], [{"id": 0, "instruction": QUESTION, "options": OPTIONS}])[0]
    assert OPTIONS[pick_option(row["logprob_sums"], row["token_counts"])] == answer


def test_batched_scores_equal_one_sequence_at_a_time(tiny_model_dir: Path) -> None:
    import torch

    from lion_cli.student.scripts.batch_decode import load_model
    from lion_cli.student.scripts.prompt import prompt_ids

    options = ["cat", "a much longer option with many words", "dog"]
    batched = _scores(tiny_model_dir, [{"id": 0, "instruction": QUESTION, "options": options}])[0]
    model, tok = load_model(str(tiny_model_dir), "fp32", "cpu")
    ctx = prompt_ids(tok, {"instruction": QUESTION}, "chat")
    for k, opt in enumerate(options):
        cont = tok(opt, add_special_tokens=False).input_ids
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ctx + cont])).logits[0].float(), -1)
        expected = sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))
        assert batched["token_counts"][k] == len(cont)
        assert batched["logprob_sums"][k] == pytest.approx(expected, abs=1e-4)


def test_entry_script_as_a_subprocess(taught: dict[str, Path], tmp_path: Path) -> None:
    """The standalone script (what the launcher runs) gives the same pick, rows in input order."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"id": "q/1", "instruction": QUESTION, "options": OPTIONS},
            {"id": "q/0", "instruction": QUESTION, "options": list(reversed(OPTIONS))}]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model_path": str(taught["dog"]), "input_path": str(inp),
                                "output_path": str(out), "prompt_format": "chat", "dtype": "fp32"}))
    proc = subprocess.run([sys.executable, "-m", "lion_cli.student.scripts.score", "--spec", str(spec)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == ["q/1", "q/0"]
    assert pick_option(got[0]["logprob_sums"], got[0]["token_counts"]) == 1      # dog
    assert pick_option(got[1]["logprob_sums"], got[1]["token_counts"]) == 0      # dog, listed first

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model_path": "m", "input_path": "i", "output_path": "o", "prompt_fmt": "x"}))
    proc = subprocess.run([sys.executable, "-m", "lion_cli.student.scripts.score", "--spec", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown key(s) ['prompt_fmt']" in proc.stderr


def test_tiny_model_fixture_untouched(tiny_model_dir: Path, tmp_path: Path) -> None:
    # The teaching copies must not have modified the shared session model.
    shutil.copytree(tiny_model_dir, tmp_path / "copy")
    assert (tmp_path / "copy" / "model.safetensors").exists()
