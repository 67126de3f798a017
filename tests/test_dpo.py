"""The DPO pieces without a training job: the loss and its statistics, the pairs file, the reference
file's fingerprint, the [preference] settings and the pair selection (unscored never, margin, cap)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lion_cli.config import ConfigError, Settings, parse_settings
from lion_cli.pipeline.dpo_run import dpo_spec
from lion_cli.pipeline.preference import select_pairs
from lion_cli.student.scripts.dpo_data import dpo_loss, load_pairs, tokenize_pair
from lion_cli.student.scripts.sft_data import IGNORE, DataError
from lion_cli.student.specs import DPOSpec, SpecError


def test_sigmoid_ipo_and_hinge_losses_and_the_reward_statistics() -> None:
    import torch

    pc, pr = torch.tensor([-1.0, -4.0]), torch.tensor([-3.0, -3.0])
    rc, rr = torch.tensor([-2.0, -3.0]), torch.tensor([-2.0, -3.0])
    beta = 0.5
    delta = (pc - pr) - (rc - rr)  # [2, -1]: not symmetric, so a flipped sign shows
    loss, stats = dpo_loss(pc, pr, rc, rr, beta, "sigmoid")
    torch.testing.assert_close(loss, -torch.nn.functional.logsigmoid(beta * delta).mean())
    # A pair the policy already prefers more than the reference does costs less than log 2; the other more.
    good, _ = dpo_loss(pc[:1], pr[:1], rc[:1], rr[:1], beta, "sigmoid")
    bad, _ = dpo_loss(pc[1:], pr[1:], rc[1:], rr[1:], beta, "sigmoid")
    assert float(good) < float(torch.log(torch.tensor(2.0))) < float(bad)
    assert stats["rewards_chosen"] == pytest.approx(0.5 * ((1.0 + -1.0) / 2))
    assert stats["rewards_rejected"] == pytest.approx(0.5 * ((-1.0 + 0.0) / 2))
    assert stats["margin"] == pytest.approx(0.5 * (2 + -1) / 2)
    assert stats["accuracy"] == pytest.approx(0.5)  # the first pair ranks chosen higher, the second not
    ipo, _ = dpo_loss(pc, pr, rc, rr, beta, "ipo")
    torch.testing.assert_close(ipo, ((delta - 1 / (2 * beta)) ** 2).mean())
    hinge, _ = dpo_loss(pc, pr, rc, rr, beta, "hinge")
    torch.testing.assert_close(hinge, torch.relu(1 - beta * delta).mean())
    with pytest.raises(ValueError, match="unknown DPO loss"):
        dpo_loss(pc, pr, rc, rr, beta, "kto")


def test_policy_equal_to_reference_gives_log_2_and_zero_rewards() -> None:
    import torch

    same = torch.tensor([-2.5, -7.0])
    loss, stats = dpo_loss(same, same - 1, same, same - 1, 0.1, "sigmoid")
    assert float(loss) == pytest.approx(float(torch.log(torch.tensor(2.0))))
    assert stats["margin"] == 0.0 and stats["accuracy"] == 0.0


def test_pairs_file_in_trl_layout_with_errors_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": "Name a river.", "chosen": "The Nile.", "rejected": "Bread."},
            {"prompt": "Sum\n\n2 and 3", "instruction": "Sum", "input": "2 and 3", "chosen": "5", "rejected": "6",
             "chosen_from": "teacher", "gap": 3.0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert load_pairs(path) == [
        {"instruction": "Name a river.", "input": "", "chosen": "The Nile.", "rejected": "Bread."},
        {"instruction": "Sum", "input": "2 and 3", "chosen": "5", "rejected": "6"}]
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"prompt": "x", "chosen": "y"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.jsonl:2: key 'rejected' must be a string"):
        load_pairs(path)


def test_a_pair_masks_its_shared_prompt(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    pair = {"instruction": "Name a river.", "input": "", "chosen": "The Nile flows north.", "rejected": "Bread."}
    rows = tokenize_pair(tok, pair, "alpaca", 256)
    assert rows is not None
    chosen, rejected = rows["chosen"], rows["rejected"]
    prompt_len = chosen["labels"].count(IGNORE)
    assert prompt_len == rejected["labels"].count(IGNORE) > 0
    assert chosen["input_ids"][:prompt_len] == rejected["input_ids"][:prompt_len]
    assert chosen["labels"][-1] == tok.eos_token_id and rejected["labels"][-1] == tok.eos_token_id
    assert tokenize_pair(tok, pair, "alpaca", prompt_len) is None  # the prompt alone fills max_length


def test_dpo_spec_validates_like_the_training_spec(tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text("{}\n", encoding="utf-8")
    base = {"model_path": "m", "data_path": str(data), "output_dir": str(tmp_path / "o")}
    spec = DPOSpec.from_json(json.dumps({**base, "beta": 0.2, "loss_type": "ipo"}))
    assert (spec.beta, spec.loss_type, spec.reference_model, spec.precompute_ref) == (0.2, "ipo", "m", True)
    with pytest.raises(SpecError, match="key 'beta'"):
        DPOSpec.from_json(json.dumps({**base, "beta": 0}))
    with pytest.raises(SpecError, match="key 'loss_type'"):
        DPOSpec.from_json(json.dumps({**base, "loss_type": "kto"}))
    with pytest.raises(SpecError, match="global_batch_size 8 is not divisible"):
        DPOSpec.from_json(json.dumps({**base, "per_device_batch_size": 3}))


@pytest.mark.parametrize(("table", "key"), [
    ("margin = 'wide'", "preference.margin"), ("margin = 12", "preference.margin"),
    ("loss_type = 'kto'", "preference.loss_type"), ("when = 'never'", "preference.when"),
    ("beta = 0", "preference.beta"), ("max_pairs = -1", "preference.max_pairs"), ("epochs = 0", "preference.epochs"),
])
def test_bad_preference_values_name_the_key(table: str, key: str) -> None:
    import tomllib

    with pytest.raises(ConfigError) as info:
        parse_settings(tomllib.loads(f"[preference]\n{table}\n"))
    assert [p.key for p in info.value.problems] == [key]


def test_preference_is_off_by_default_and_takes_its_job_defaults_from_the_spec(tmp_path: Path) -> None:
    s = Settings()
    assert s.preference.enabled is False and s.preference.pair_margin(s.loop.tau) == s.loop.tau
    assert parse_settings({"preference": {"margin": 2}}).preference.pair_margin(1.0) == 2.0
    spec, launch = dpo_spec(s, model_path="m", pairs_path=tmp_path / "p.jsonl", output_dir=tmp_path / "o")
    defaults = DPOSpec(model_path="m", data_path="d", output_dir="o")
    assert (spec.beta, spec.lr, spec.epochs, spec.loss_type) == (defaults.beta, defaults.lr, defaults.epochs, "sigmoid")
    assert spec.precision == s.student.precision and spec.lora.enabled is s.student.lora.enabled
    assert launch.launcher == s.student.launcher
    # A distilling imitation stage's teacher is not the DPO job's: it is neither required nor recorded there.
    distilling = parse_settings({"student": {"objective": "skew_kl", "teacher_model": str(tmp_path / "gone"),
                                             "heldout_rows": 2, "sgo": "adaptive"}})
    (tmp_path / "p.jsonl").write_text("{}\n", encoding="utf-8")
    spec, _ = dpo_spec(distilling, model_path="m", pairs_path=tmp_path / "p.jsonl", output_dir=tmp_path / "o")
    assert (spec.objective, spec.teacher_model, spec.heldout_rows, spec.sgo) == ("sft", "", 0, "off")
    spec.validate()  # the teacher folder does not exist: no matter to DPO


def test_pair_selection_keeps_gaps_at_the_margin_never_unscored_and_the_widest_when_capped() -> None:
    rows = [{"instruction_id": i, "gap": g} for i, g in enumerate([0.5, 1.0, None, 3.0, 2.0, 1.5])]
    assert [r["instruction_id"] for r in select_pairs(rows, 1.0, 0)] == [1, 3, 4, 5]
    assert [r["instruction_id"] for r in select_pairs(rows, 1.0, 2)] == [3, 4]
    assert select_pairs(rows, 9.0, 0) == []


def test_status_lines_show_the_dpo_and_each_online_round() -> None:
    from lion_cli.cli.status_preference import preference_line

    state = {"status": "done", "pairs": 9, "margin": 0.25, "accuracy": 0.75,
             "online": [{"round": 1, "pairs": 7, "prompts": 9, "sampled": 18, "referee_asked": 36,
                         "margin": 0.5, "accuracy": 1.0},
                        {"round": 2, "skipped": "no sample pair reaches the margin"}]}
    assert preference_line(state).splitlines() == [
        "      preference (DPO) on 9 pairs: done · reward margin 0.250, accuracy 0.75",
        "      online round 1: 7 pairs from 9 prompts (18 samples, 36 referee requests) · reward margin 0.500, "
        "accuracy 1.00",
        "      online round 2 skipped: no sample pair reaches the margin"]
    online_only = {"status": "skipped", "skipped": "no judged pair reaches the margin yet",
                   "online": [{"round": 1, "pairs": 2, "prompts": 3, "sampled": 6, "referee_asked": 12}]}
    assert preference_line(online_only).splitlines()[1].startswith("      online round 1: 2 pairs from 3 prompts")


def test_an_online_rounds_job_is_not_shown_as_the_judged_dpo(tmp_path: Path) -> None:
    """Judged DPO skipped, one online round trained: the stage line says skipped (the online job's scores
    belong to its round's line); while only an online round runs, its line says so."""
    from lion_cli.cli.init import init_project
    from lion_cli.cli.status_preference import preference_line, preference_states
    from lion_cli.core.types import Stage
    from lion_cli.store.db import open_store
    from lion_cli.store.jobs import add_metric, finish_job, start_job
    from lion_cli.store.progress import ensure_iteration, finish_stage

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Name a river.\n", encoding="utf-8")
    init_project(tmp_path / "p", seeds)
    with open_store(tmp_path / "p" / "lion.db") as store:
        ensure_iteration(store, 1)
        job = start_job(store, 1, "dpo", "{}", str(tmp_path / "p" / "students" / "iter-1" / "online-1"), 4)
        add_metric(store, job, {"step": 4, "loss": 0.5, "margin": 0.75, "accuracy": 1.0})
        assert preference_line(preference_states(store)[1]) == "      preference · online round 1: running"
        finish_job(store, job, "done", 0, None)
        round_one = {"round": 1, "pairs": 2, "prompts": 3, "sampled": 6, "referee_asked": 12, "margin": 0.75,
                     "accuracy": 1.0}
        finish_stage(store, 1, Stage.IMITATION, {"preference": {"skipped": "no judged pair reaches the margin",
                                                               "online": [round_one]}})
        lines = preference_line(preference_states(store)[1]).splitlines()
    assert lines[0] == "      preference skipped: no judged pair reaches the margin"
    assert lines[1].endswith("· reward margin 0.750, accuracy 1.00") and len(lines) == 2
