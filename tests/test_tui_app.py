"""Pilot tests of the dashboard on fixture stores: what each panel shows, live updates, the
instruction detail screen, search, quitting with a run process, and `lion tui`."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_fixtures import CLOCK, DEAD_PID, build_empty_project, build_known_project, screen_text, until
from typer.testing import CliRunner

from lion_cli.cli.app import app as cli_app
from lion_cli.store.db import open_store
from lion_cli.tui.app import LionDashboard, export_screenshot, stop_run
from lion_cli.tui.screens import DetailScreen, QuitRunScreen, SearchScreen

SIZE = (140, 45)


async def loaded(pilot: Pilot, app: LionDashboard, n: int = 1) -> None:
    await until(pilot, lambda: app.refreshes >= n)
    await pilot.pause()


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return build_known_project(tmp_path / "proj")


async def test_panels_show_the_known_numbers(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        text = screen_text(app)
        assert "fixture-lion" in text and "it1 (2/3)" in text and "discrimination · referee running" in text
        assert "elapsed 0:30:00" in text and "run: running" in text
        assert "25% referee 6/24" in text
        assert "12 / 20" in text and "2 / 60" in text and "2,448 (600) / 10.0k" in text   # teacher row: reserved (used)
        assert "teacher:   TPM-bound by max_tokens: each request reserves ~1,224 tokens → at most 8 req/min" in text
        assert "1,200 / 2,400" in text and "$0.0240" in text
        assert "spent $0.0455" in text and "budget $5.00, left $4.9545" in text
        await pilot.press("2")
        text = screen_text(app)
        assert "training loss · job 2 (it1)" in text and "10 / 10" in text and "1,500" in text
        assert "/students/iter-1" in text
        await pilot.press("3")
        text = screen_text(app)
        assert "τ = 1.0" in text
        assert "it0      3     4      42.9%  0.857      0.75         1     78%" in text
        await pilot.press("4")
        text = screen_text(app)
        assert "rejected: too similar              2" in text and "57.1%" in text
        assert "Write a limerick about a lighthouse keeper." in text and "hard · gap +3.5" in text
        await pilot.press("5")
        text = screen_text(app)
        assert "student-it0 (it0)" in text and "32.0 (2/23)" in text and "25.0 (1/8)" in text
        assert "91.25 %" in text and "student-it0 (it0) · loglik" in text and "40.0 (1/23)" in text
        assert "paper: Lion-7B" in text and "41.6 (2/23)" in text and "28.2 (1/8)" in text and "93.81 %" in text
        await pilot.press("6")
        assert "teacher: 429, waiting 2 s" in screen_text(app)
        await pilot.press("tab")
        assert app.query_one("TabbedContent").active == "api"   # tab wraps around


async def test_view_updates_when_another_connection_writes(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        assert "18 / 81" in screen_text(app)
        with open_store(known / "lion.db") as w, w.tx() as c:
            c.executemany("INSERT INTO api_calls (ts, role, model, base_url, ok, cost_usd) VALUES"
                          " (?, 'referee', 'gpt-x', 'u', 1, 0.5)", [(CLOCK - 1,)] * 3)
            c.execute("UPDATE stages SET done=18 WHERE iteration=1 AND stage='discrimination'")
            c.execute("INSERT INTO events (ts, level, message) VALUES (?, 'info', 'a fresh event')", (CLOCK,))
        await until(pilot, lambda: "spent $1.5455" in screen_text(app))
        text = screen_text(app)
        assert "75% referee 18/24" in text and "21 / " in text
        await pilot.press("6")
        await until(pilot, lambda: "a fresh event" in screen_text(app))


async def test_panels_follow_the_store_under_a_pushed_screen(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.open_instruction(1)
        await pilot.pause()
        with open_store(known / "lion.db") as w, w.tx() as c:
            c.execute("UPDATE stages SET done=12 WHERE iteration=1 AND stage='discrimination'")
        await pilot.press("r")   # the detail screen is on top: the main screen's parts still redraw
        await loaded(pilot, app, 2)
        await pilot.press("escape")
        assert "50% referee 12/24" in screen_text(app)


async def test_a_failed_read_shows_in_the_header_until_a_read_succeeds(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        working = app.reader.refresh

        def broken() -> object:
            raise sqlite3.OperationalError("disk I/O error")

        app.reader.refresh = broken  # type: ignore[method-assign]
        await pilot.press("r")
        await until(pilot, lambda: "read error:" in screen_text(app))   # the header wraps it at 140 columns
        assert "OperationalError: disk I/O error" in screen_text(app)
        assert app.read_errors == ["OperationalError: disk I/O error"] and "25% referee 6/24" in screen_text(app)
        app.reader.refresh = working  # type: ignore[method-assign]
        await pilot.press("r")
        await loaded(pilot, app, 2)
        assert "read error" not in screen_text(app) and "run: running" in screen_text(app)


async def test_a_read_replaced_by_a_newer_one_still_shows_its_events(known: Path) -> None:
    """The reader hands each new event once: a read that was cancelled after it had read must still
    deliver its snapshot, or the log loses those lines for good."""
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        working, has_read, release = app.reader.refresh, threading.Event(), threading.Event()

        def read_then_hold() -> object:
            snap = working()
            app.reader.refresh = working  # type: ignore[method-assign]   # only the first read is held
            has_read.set()
            release.wait(5)
            return snap

        with open_store(known / "lion.db") as w, w.tx() as c:
            c.execute("INSERT INTO events (ts, level, message) VALUES (?, 'info', 'read by the replaced read')",
                      (CLOCK,))
        app.reader.refresh = read_then_hold  # type: ignore[method-assign]
        replaced = app.read_store()
        await until(pilot, has_read.is_set)
        app.read_store()   # exclusive: cancels the held read, then reads (nothing new) and shows it
        await until(pilot, lambda: replaced.is_cancelled and app.refreshes >= 2)
        release.set()
        await loaded(pilot, app, 3)
        await pilot.press("6")
        assert screen_text(app).count("read by the replaced read") == 1


async def test_detail_screen_shows_both_referee_replies(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("4")   # generation panel: the table is focused; newest accepted first
        await pilot.press("down", "down", "down", "down", "down", "down", "enter")   # row 7: hard #1
        assert isinstance(app.screen, DetailScreen) and app.screen.detail.id == 1
        text = screen_text(app)
        assert "Write a haiku about the sea." in text and "teacher answer 1" in text
        assert "student answer 1 (it0)" in text
        assert "teacher first · attempt 0 · teacher 9 · student 5" in text and "Referee on teacher_first" in text
        assert "student first · attempt 0 · teacher 9 · student 6" in text and "Referee on student_first" in text
        assert "it0: hard  teacher 9  student 5.5  gap 3.5  order flip no" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_unreadable_referee_replies_are_shown_raw(known: Path) -> None:
    app = LionDashboard(known, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.open_instruction(8)
        await pilot.pause()
        text = screen_text(app)
        assert "attempt 1 · unreadable: no scores" in text and "I cannot decide (student_first)" in text
        assert "it0: unscored" in text


async def test_search_opens_an_instruction(known: Path) -> None:
    app = LionDashboard(known, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"osmosis", "enter")
        await until(pilot, lambda: "1 matches for 'osmosis'" in screen_text(app))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.detail.id == 10
        assert "written from #2" in screen_text(app)


async def test_empty_project(tmp_path: Path) -> None:
    from lion_cli.cli.common import project_plan

    d = build_empty_project(tmp_path / "e")
    app = LionDashboard(d, refresh_s=None, plan=project_plan(d))   # as `lion tui` starts it
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        text = screen_text(app)
        assert "run: never run" in text and "it0 (1/3)" in text
        # 8 seeds + 3 iterations' new, the last for the final imitation
        assert "0 / 18,008" in text and "no cap" in text
        for key, expected in (("2", "No training job in the store yet."), ("3", "No labels yet."),
                              ("4", "No candidates yet."), ("5", "No evaluation results yet")):
            await pilot.press(key)
            assert expected in screen_text(app)


async def test_run_killed_mid_stage(tmp_path: Path) -> None:
    app = LionDashboard(build_known_project(tmp_path / "k", run_pid=DEAD_PID), clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        text = screen_text(app)
        assert "run: process gone (killed?)" in text and "interrupted at 25% referee 6/24" in text
        assert "discrimination · referee" not in text and "ETA --:--" in text


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


@pytest.mark.parametrize("choice", ["stop", "leave", "cancel"])
async def test_quit_asks_about_the_run_process(known: Path, choice: str) -> None:
    proc = _sleeper()
    try:
        app = LionDashboard(known, run_process=proc, refresh_s=None)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app)
            await pilot.press("q")
            assert isinstance(app.screen, QuitRunScreen)
            await pilot.click(f"#{choice}")
            await pilot.pause()
            assert app.return_value == (None if choice == "cancel" else choice)
            assert app.is_running == (choice == "cancel")
    finally:
        proc.kill()
        proc.wait()


async def test_quit_without_a_live_run_exits_at_once(known: Path) -> None:
    app = LionDashboard(known, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


def test_stop_run_interrupts_the_process() -> None:
    # The child sets Python's own SIGINT handler itself (as `lion run` sets its StopOnSignal): started from
    # a shell's background job, it would inherit SIGINT ignored, and Python then installs no handler.
    proc = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                             "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                             "try:\n print('ready', flush=True)\n"
                             " time.sleep(60)\nexcept KeyboardInterrupt:\n raise SystemExit(130)"],
                            stdout=subprocess.PIPE, text=True)
    # Once it prints, the child is inside the try with Python's SIGINT handler in place (a fixed sleep was
    # too short for an interpreter starting on a loaded machine: SIGINT came first and killed it outright).
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    assert stop_run(proc, grace_s=10) == 130


def test_export_screenshot(known: Path, tmp_path: Path) -> None:
    out = export_screenshot(known, tmp_path / "shot.svg", size=(120, 40), panel="discrimination")
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "fixture" in svg and "order&#160;consistency" in svg


def test_cli_tui_errors_and_screenshot(tmp_path: Path, known: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli_app, ["tui", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "nowhere" in res.output
    (tmp_path / "bare").mkdir()
    res = runner.invoke(cli_app, ["tui", str(tmp_path / "bare")])
    assert res.exit_code == 2 and "lion.db: no store here" in res.output
    res = runner.invoke(cli_app, ["tui", str(known), "--panel", "nope"])
    assert res.exit_code == 2 and "--panel 'nope'" in res.output
    res = runner.invoke(cli_app, ["tui", str(known), "--screenshot", str(tmp_path / "s.svg"), "--panel", "training"])
    assert res.exit_code == 0 and (tmp_path / "s.svg").read_text().startswith("<svg")
    assert "training&#160;loss" in (tmp_path / "s.svg").read_text()


def test_the_dashboard_has_one_stylesheet_inside_the_package() -> None:
    """lion.tcss sits in the package (the wheel takes every file under lion_cli/), and no widget or
    screen keeps CSS of its own in a string."""
    import lion_cli.tui.app as app_module

    tui = Path(app_module.__file__).parent
    assert (tui / str(LionDashboard.CSS_PATH)).is_file()
    inline = [p.name for p in tui.rglob("*.py") if re.search(r"^\s*(DEFAULT_)?CSS\s*=", p.read_text(), re.M)]
    assert inline == []


def test_cli_panel_names_match_the_app() -> None:
    from lion_cli.cli.tui import PANEL_IDS
    from lion_cli.tui.app import PANELS

    assert tuple(pid for pid, _ in PANELS) == PANEL_IDS
