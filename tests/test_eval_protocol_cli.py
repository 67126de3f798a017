"""`lion eval --protocol` on the tiny model through the real engine, and how `--model` finds the
prompt layout: lion's record in the folder, else a chat template, else exit 2 asking for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lion_cli.store.db import open_store
from lion_cli.store.evals import results, samples

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def _without_template(tiny: Path, dest: Path) -> Path:
    shutil.copytree(tiny, dest)
    (dest / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((dest / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg.pop("chat_template", None)
    (dest / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return dest


def test_paper_protocol_json_names_the_protocol(lion_cli: Any, tiny_model_dir: Path) -> None:
    res = lion_cli("eval", "bbh", "--model", str(tiny_model_dir), "--tasks", "navigate", "--limit", "2",
                   "--max-new-tokens", "4", "--data-dir", str(DATA), "--json")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["protocol"] == "paper" and [(r["protocol"], r["mode"], r["n"]) for r in out["results"]] == [
        ("paper", "paper", 2)]
    table = lion_cli("eval", "bbh", "--model", str(tiny_model_dir), "--tasks", "navigate", "--limit", "2",
                     "--max-new-tokens", "4", "--data-dir", str(DATA), "--protocol", "agieval")
    assert table.exit_code == 0, table.stderr
    assert "protocol agieval" in table.stdout and "agieval (1st A-F)" in table.stdout


def test_model_without_layout_asks_for_prompt_format(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    bare = _without_template(tiny_model_dir, tmp_path / "bare")
    args = ["eval", "bbh", "--model", str(bare), "--tasks", "navigate", "--limit", "1", "--max-new-tokens", "2",
            "--data-dir", str(DATA), "--protocol", "lion"]
    res = lion_cli(*args)
    assert res.exit_code == 2 and "--prompt-format" in res.stderr and "no chat template" in res.stderr
    assert lion_cli(*args, "--prompt-format", "alpaca").exit_code == 0
    bad = lion_cli("eval", "bbh", "--model", str(bare), "--protocol", "lion", "--mode", "guess")
    assert bad.exit_code == 2 and "--mode" in bad.stderr
    wrong = lion_cli("eval", "bbh", "--model", str(bare), "--protocol", "paper", "--mode", "loglik")
    assert wrong.exit_code == 2 and "--mode belongs to --protocol lion" in wrong.stderr
    unknown = lion_cli("eval", "bbh", "--model", str(bare), "--protocol", "orca")
    assert unknown.exit_code == 2 and "--protocol" in unknown.stderr


def test_recorded_layout_is_used_and_stored(lion_cli: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    from lion_cli.student.specs.train import PROMPT_RECORD

    trained = _without_template(tiny_model_dir, tmp_path / "trained")
    (trained / PROMPT_RECORD).write_text(json.dumps({"prompt_format": "alpaca"}), encoding="utf-8")
    seed = tmp_path / "seeds.txt"
    seed.write_text("Name a colour.\n", encoding="utf-8")
    assert lion_cli("init", str(tmp_path / "p"), "--seed", str(seed), "--set", "student.launcher=python",
                    "--set", "student.prompt_format=chat").exit_code == 0
    res = lion_cli("eval", "agieval", "-C", str(tmp_path / "p"), "--model", str(trained), "--tasks", "sat-math",
                   "--limit", "2", "--max-new-tokens", "2", "--data-dir", str(DATA), "--protocol", "agieval")
    assert res.exit_code == 0, res.stderr
    with open_store(tmp_path / "p" / "lion.db") as store:
        row = results(store, benchmark="agieval")[0]
        assert (row.mode, row.detail["protocol"], row.detail["prompt_format"]) == ("agieval", "agieval", "alpaca")
        assert samples(store, row.id)[0].prompt.endswith("Among A through D, the answer is")


def test_harness_protocol_runs_bbh_and_agieval(lion_cli: Any, tiny_model_dir: Path) -> None:
    pytest.importorskip("lm_eval")
    for bench, task in (("bbh", "sports_understanding"), ("agieval", "lsat-ar")):
        res = lion_cli("eval", bench, "--model", str(tiny_model_dir), "--tasks", task, "--limit", "2",
                       "--max-new-tokens", "3", "--data-dir", str(DATA), "--protocol", "harness", "--json")
        assert res.exit_code == 0, res.stderr
        [row] = json.loads(res.stdout)["results"]
        assert (row["protocol"], row["n"]) == ("harness", 2)
