"""The batch settings of [teacher], [referee] and [generator]: online by default, a bad mode is exit 2 naming
the key, and the judge (asked online by `lion eval vicuna`) takes no batch mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lion_cli.config import ConfigError, Settings, parse_settings


def test_every_role_is_online_by_default() -> None:
    s = Settings()
    assert {s.endpoint(r).mode for r in ("teacher", "referee", "generator", "judge")} == {"online"}
    assert (s.referee.batch_completion_window, s.referee.batch_resend) == ("24h", "batch")
    assert s.teacher.items_in_flight == s.teacher.max_concurrency


def test_batch_mode_lets_a_stage_ask_for_all_its_items_at_once() -> None:
    s = parse_settings({"referee": {"mode": "batch", "batch_resend": "online", "batch_poll_s": 5.0}})
    assert (s.referee.mode, s.referee.batch_resend, s.referee.batch_poll_s) == ("batch", "online", 5.0)
    assert s.referee.items_in_flight == 50_000


@pytest.mark.parametrize(("data", "key"), [
    ({"teacher": {"mode": "batched"}}, "teacher.mode"),
    ({"generator": {"batch_resend": "later"}}, "generator.batch_resend"),
    ({"referee": {"batch_poll_s": 0}}, "referee.batch_poll_s"),
    ({"judge": {"mode": "batch"}}, "judge.mode"),
])
def test_a_bad_batch_setting_names_its_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    assert [p.key for p in info.value.problems] == [key], str(info.value)


def test_a_bad_mode_is_exit_2_naming_the_key(tmp_path: Path, lion_cli: Any) -> None:
    (tmp_path / "lion.toml").write_text('[referee]\nmode = "offline"\n', encoding="utf-8")
    result = lion_cli("status", str(tmp_path))
    assert result.exit_code == 2
    assert "referee.mode" in result.stderr and "'online' or 'batch'" in result.stderr, result.stderr


def test_status_does_not_pace_a_batch_role_by_rpm_and_tpm(tmp_path: Path, lion_cli: Any) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Name a colour.\n", encoding="utf-8")
    project = tmp_path / "proj"
    assert lion_cli("init", str(project), "--seed", str(seeds), "--set", "referee.mode=batch").exit_code == 0
    text = lion_cli("status", str(project)).stdout
    assert "referee   batch mode: rpm/tpm do not apply" in text, text
    assert "referee   limiter" not in text and "referee: TPM-bound" not in text, text
    assert "teacher   limiter" in text   # an online role keeps its limiter's accounting


@pytest.mark.parametrize(("mode", "windows"), [("online", [4, 4, 4, 4, 4]), ("batch", [10, 10])])
def test_the_generator_asks_what_its_quota_still_needs_in_batch_mode(mode: str, windows: list[int]) -> None:
    """In batch mode the generator's slots go out as few batches as fill the quota: first exactly what is
    missing, then what is still missing at the acceptance seen (every line is paid, and each batch may wait
    hours for the one before it); online, max(4, max_concurrency) at a time. Half the replies accepted here."""
    import asyncio
    from types import SimpleNamespace

    from lion_cli.core.types import Label
    from lion_cli.pipeline.generation import GenerationRun, Tally

    settings = parse_settings({"generator": {"mode": mode, "max_concurrency": 3}})
    windows_asked = [0]

    class Counted(GenerationRun):
        async def ask(self, slot: int) -> Any:
            windows_asked[-1] += 1
            return None

        def decide(self, slot: int, reply: Any) -> bool:
            if windows_asked[-1]:   # a window's asks end where its first decision is made
                windows_asked.append(0)
            if slot % 2:
                self.tally.accept(Label.HARD, slot)
            return bool(slot % 2)

    plan = [(Label.HARD, 1)] * 30   # three times the quota, as max_attempts_factor plans it
    ctx: Any = SimpleNamespace(settings=settings)
    bar: Any = SimpleNamespace(advance=lambda: None)
    run = Counted(ctx, 0, plan, {}, Tally({Label.HARD: 10, Label.EASY: 0}), None)  # type: ignore[arg-type]
    asyncio.run(run.ask_and_decide(0, bar))
    assert windows_asked[:-1] == windows and run.tally.met
