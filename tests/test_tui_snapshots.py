"""SVG snapshots of the main screens (pytest-textual-snapshot). Deterministic: a frozen clock, no
refresh timer, UTC for event times, and a run whose pid is this test process (so it reads 'running').
After an intended visual change: `.venv/bin/pytest tests/test_tui_snapshots.py --snapshot-update`,
then look at the SVGs under tests/__snapshots__/ before accepting them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_fixtures import CLOCK, build_empty_project, build_known_project

from lion_cli.tui.app import LionDashboard

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
PANEL_KEYS = {"api": "1", "training": "2", "discrimination": "3", "generation": "4", "evaluation": "5", "log": "6"}


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return build_known_project(tmp_path / "proj")


def _app(project: Path) -> LionDashboard:
    return LionDashboard(project, clock=lambda: CLOCK, refresh_s=None)


def _after_load(*keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, LionDashboard)
        while app.refreshes < 1:
            await pilot.pause(0.02)
        if keys:
            await pilot.press(*keys)
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("panel", PANEL_KEYS)
def test_snapshot_panel(snap_compare, known: Path, panel: str, size: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(known), terminal_size=SIZES[size], run_before=_after_load(PANEL_KEYS[panel]))


def test_snapshot_discrimination_trend_on_a_short_terminal(snap_compare, known: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(known), terminal_size=SIZES["80x24"], run_before=_after_load("3", "p"))


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_instruction_detail(snap_compare, known: Path, size: str) -> None:  # type: ignore[no-untyped-def]
    keys = ("4", *["down"] * 6, "enter")
    assert snap_compare(_app(known), terminal_size=SIZES[size], run_before=_after_load(*keys))


def test_snapshot_keys(snap_compare, known: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(known), terminal_size=SIZES["80x24"], run_before=_after_load("question_mark"))


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_empty_project(snap_compare, tmp_path: Path, size: str) -> None:  # type: ignore[no-untyped-def]
    from lion_cli.cli.common import project_plan

    d = build_empty_project(tmp_path / "e")   # started as `lion tui` starts it: with lion.toml's plan
    app = LionDashboard(d, clock=lambda: CLOCK, refresh_s=None, plan=project_plan(d))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_after_load())
