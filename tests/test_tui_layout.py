"""The dashboard at the sizes people have (80×24, 120×40), its keys and its warnings: no number of
the API panel cut, `?`, the footer's enter and esc, the palette's Screenshot, the referee warning,
the hardest instructions by gap (enter opens both referee replies), every training job's curve, the
histogram's whole-number counts and τ drawn over the bars, and an instruction opening as its row says."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_fixtures import CLOCK, SETTINGS, build_known_project, screen_text, until

from lion_cli.core.totals import plan_from_settings
from lion_cli.store.db import open_store
from lion_cli.tui.app import LionDashboard
from lion_cli.tui.screens import DetailScreen, KeysScreen
from lion_cli.tui.widgets.api_panel import API_COLUMNS, role_row
from lion_cli.tui.widgets.columns import kept_columns
from lion_cli.tui.widgets.discrimination import count_ticks

SMALL, LARGE = (80, 24), (120, 40)


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return build_known_project(tmp_path / "proj")


async def _loaded(pilot: Pilot, app: LionDashboard) -> None:
    for _ in range(250):
        if app.refreshes >= 1:
            break
        await pilot.pause(0.02)
    await pilot.pause()


def _footer(app: LionDashboard) -> str:
    return screen_text(app).splitlines()[-1]


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_no_cell_of_the_api_panel_is_cut(known: Path, size: tuple[int, int]) -> None:
    """Every column shown is shown whole (role names, money, counts), the most important ones are
    always there, and the money line is whole."""
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=size) as pilot:
        await _loaded(pilot, app)
        panel = app.query_one("#api-panel")
        lines = screen_text(app).splitlines()[panel.region.y: panel.region.bottom]
        rows = [role_row(u) for u in app.snapshot.roles.values()]   # type: ignore[union-attr]
        kept = kept_columns(API_COLUMNS, rows, panel.content_region.width)
        assert {API_COLUMNS[k].header for k in kept} >= {"role", "spent", "done / total", "429s"}
        if size == LARGE:
            assert len(kept) == len(API_COLUMNS)   # good at 120 columns: nothing dropped
        for role, row in zip(app.snapshot.roles, rows, strict=True):   # type: ignore[union-attr]
            line = next(x for x in lines if x.lstrip().startswith(role + " "))
            for k in kept:
                cell = row[k] if isinstance(row[k], str) else row[k].plain   # type: ignore[union-attr]
                assert cell in line, (role, API_COLUMNS[k].header, cell, line)
        panel_text = "\n".join(lines)
        assert "…" not in panel_text
        assert "spent $0.0455   projected total $0.1315   budget $5.00, left $4.9545" in panel_text


async def test_question_mark_lists_the_keys(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SMALL) as pilot:
        await _loaded(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, KeysScreen)
        text = screen_text(app)
        for key, words in (("enter", "open the highlighted instruction"), ("esc", "back from"), ("/", "search"),
                           ("1-6", "show panel"), ("tab", "panels"), ("r", "refresh"), ("q", "quit")):
            assert any(line.split("█")[-2 if "█" in line else -1].strip().startswith(key)
                       and words in line for line in text.splitlines()), (key, words)
        assert "esc close" in _footer(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, KeysScreen)


async def test_the_footer_names_enter_and_esc(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SMALL) as pilot:
        await _loaded(pilot, app)
        assert "enter open" in _footer(app) and "? keys" in _footer(app)
        await pilot.press("4")
        assert "enter open" in _footer(app)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert "esc back" in _footer(app) and "enter open" not in _footer(app)


async def test_the_palette_saves_a_screenshot_in_the_project(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("3", "ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"screenshot")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: list(known.glob("lion-discrimination-*.svg")))
        await until(pilot, lambda: any("Saved screenshot" in str(n.message) for n in app._notifications))
        shot = next(known.glob("lion-discrimination-*.svg")).read_text(encoding="utf-8")
        assert shot.startswith("<svg") and "hardest&#160;by&#160;gap" in shot


def _break_the_referee(project: Path, *, flips: bool = False, unreadable: bool = False) -> None:
    with open_store(project / "lion.db") as w, w.tx() as c:
        if flips:    # every scored verdict changed its winner when the answers swapped
            c.execute("UPDATE labels SET order_flip = 1 WHERE iteration = 0 AND label != 'unscored'")
        if unreadable:
            c.execute("UPDATE judgements SET parse_error = 'no scores' WHERE iteration = 0 AND instruction_id <= 4")


@pytest.mark.parametrize(("flips", "unreadable", "expected"), [
    (True, False, "order consistency 0.00 < 0.6"),
    (False, True, "parse rate 33% < 75%: 12 of 18 referee replies had no readable scores"),
])
async def test_an_untrustworthy_referee_is_named(known: Path, flips: bool, unreadable: bool, expected: str) -> None:
    _break_the_referee(known, flips=flips, unreadable=unreadable)
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        assert "⚠ referee untrusted in it0 (3)" in screen_text(app)   # seen from panel 1
        await pilot.press("3")
        box = app.query_one("#disc-warning").region
        shown = [line[box.x: box.right] for line in screen_text(app).splitlines()[box.y: box.bottom]]
        assert "⚠ it0 referee: " + expected in " ".join(" ".join(shown).split())


async def test_a_sound_referee_has_no_warning(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("3")
        assert "⚠" not in screen_text(app)


async def test_hardest_by_gap_and_enter_opens_both_referee_replies(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=SMALL) as pilot:
        await _loaded(pilot, app)
        await pilot.press("3")
        table = app.query_one("#disc-hardest")
        gaps = [table.get_row_at(k)[0] for k in range(table.row_count)]   # type: ignore[attr-defined]
        assert gaps == ["+3.5", "+1.5", "+1.5", "+0.2", "+0.0", "-0.5", "-1.0"]   # largest first, unscored left out
        await pilot.press("down", "enter")   # the second: #2, gap 1.5 (ties by id)
        assert isinstance(app.screen, DetailScreen) and app.screen.detail.id == 2
        text = screen_text(app)
        assert "teacher first · attempt 0 · teacher 8 · student 6" in text
        assert "student first · attempt 0 · teacher 8 · student 7" in text


async def test_every_training_jobs_curve_can_be_shown(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("2")
        assert "training loss · job 2 (it1)" in screen_text(app)
        await pilot.press("down")   # the older job
        await until(pilot, lambda: "training loss · job 1 (it0)" in screen_text(app))
        assert "/students/iter-0" in screen_text(app) and "2.0000" not in screen_text(app)
        assert "1.1000" in screen_text(app)   # job 1's last loss: 2.0 − 0.9
        await pilot.press("up")
        await until(pilot, lambda: "training loss · job 2 (it1)" in screen_text(app))


def _add_dpo_job(project: Path) -> None:
    """A DPO job of iteration 1 at step 3 of 6, its run alive (the fixture's clock)."""
    with open_store(project / "lion.db") as store, store.tx() as c:
        c.execute("INSERT INTO train_jobs (id, iteration, kind, status, spec_json, output_dir, total_steps)"
                  " VALUES (4, 1, 'dpo', 'running', '{}', '/students/iter-1/dpo', 6)")
        for step in (1, 2, 3):
            c.execute("INSERT INTO train_metrics (job_id, step, epoch, loss, lr, margin, accuracy, ts)"
                      " VALUES (4, ?, ?, ?, 1e-6, ?, ?, ?)",
                      (step, step / 6, 0.69 - 0.05 * step, 0.125 * step, 0.25 * step, CLOCK - 60 + step))


async def test_a_dpo_job_shows_its_reward_margin_and_pair_accuracy(known: Path) -> None:
    _add_dpo_job(known)
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("2")
        text = screen_text(app)
        assert "DPO loss · job 4 (it1)" in text and "4 dpo" in text, text
        assert "reward margin" in text and "0.375" in text and "0.75" in text, text
        await pilot.press("down")   # the SFT job before it has no preference facts
        await until(pilot, lambda: "training loss · job 2 (it1)" in screen_text(app))
        assert "reward margin" not in screen_text(app)


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_the_preference_stage_stands_in_the_strip_after_imitation(known: Path, size: tuple[int, int]) -> None:
    _add_dpo_job(known)
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=size) as pilot:
        await _loaded(pilot, app)
        line = next(t for t in screen_text(app).splitlines() if "it1" in t and ("imit" in t))
        # Four stages' long form is wider than 120 columns: the line takes the short one, on one row.
        assert "pref." in line and line.index("imit") < line.index("pref.") < line.index("discr"), line
        assert "gen." in line, line
        assert "50% dpo 3/6" in line, line
        it0 = next(t for t in screen_text(app).splitlines() if "it0" in t and "imit" in t)
        assert "pref" not in it0, it0   # iteration 0 had no DPO job


async def test_a_distillation_job_shows_its_held_out_kl_to_the_teacher(known: Path) -> None:
    with open_store(known / "lion.db") as store, store.tx() as c:   # job 2 scored the held-out rows at step 10
        c.execute("UPDATE train_metrics SET heldout_kl = 0.4321 WHERE job_id = 2 AND step = 10")
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("2")
        assert "held-out KL" in screen_text(app) and "0.4321" in screen_text(app), screen_text(app)
        await pilot.press("down")   # job 1 is SFT without a teacher: no such row
        await until(pilot, lambda: "training loss · job 1 (it0)" in screen_text(app))
        assert "held-out KL" not in screen_text(app)


def test_count_ticks_are_whole_numbers() -> None:
    for top in (1, 2, 3, 7, 10, 41, 1000):
        ticks = count_ticks(top)
        assert all(t == int(t) for t in ticks) and ticks[0] == 0 and ticks[-1] >= top and len(ticks) <= 5


async def test_tau_is_drawn_over_the_bar_it_falls_on(known: Path) -> None:
    """τ = 1.5 falls on the tallest bar (two instructions with gap 1.5): its line shows in every
    row of the plot, the bar's rows included."""
    settings = json.loads(json.dumps(SETTINGS))
    plan = replace(plan_from_settings(settings), tau=1.5)
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None, plan=plan)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("3")
        plot = app.query_one("#gap-plot")
        lines = screen_text(app).splitlines()[plot.region.y: plot.region.bottom]
        inner = [line[plot.region.x: plot.region.right] for line in lines]
        rows = [x for x in inner if ("┤" in x or x.lstrip().startswith("│")) and "█" in x]
        assert rows and all("│" in x.strip()[1:-1] for x in rows), "\n".join(inner)
        labels = [x.strip() for x in inner if x.strip()[:1].isdigit()]
        assert [x.split("┤")[0] for x in labels] == ["2", "1", "0"]   # counts: no fractions


async def test_a_new_instruction_opens_as_its_row_says(known: Path) -> None:
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        await pilot.press("4")
        assert "12  new · easy · it0" in screen_text(app)
        await pilot.press("enter")
        text = screen_text(app)
        assert isinstance(app.screen, DetailScreen) and app.screen.detail.id == 12
        assert "origin easy · written in it0's generation, in the pools from it1" in " ".join(text.split())


async def test_the_header_names_the_final_imitation_not_an_iteration_past_the_plan(known: Path) -> None:
    with open_store(known / "lion.db") as store, store.tx() as c:   # iterations 1 and 2 done; the final one running
        c.execute("UPDATE stages SET status = 'done' WHERE iteration = 1")
        c.execute("UPDATE iterations SET status = 'done' WHERE iteration = 1")
        c.execute("INSERT INTO iterations (iteration, status) VALUES (2, 'done'), (3, 'running')")
        for st in ("imitation", "discrimination", "generation"):
            c.execute("INSERT INTO stages (iteration, stage, status, done, total) VALUES (2, ?, 'done', 4, 4)", (st,))
        c.execute("INSERT INTO stages (iteration, stage, status, step, done, total)"
                  " VALUES (3, 'imitation', 'running', 'teacher', 1, 4)")
    app = LionDashboard(known, clock=lambda: CLOCK, refresh_s=None)
    async with app.run_test(size=LARGE) as pilot:
        await _loaded(pilot, app)
        header = screen_text(app).splitlines()[0]
        assert "it3 (final, after 3)" in header and "4/3" not in header, header


def test_a_strip_line_too_wide_for_the_terminal_takes_the_short_form() -> None:
    """At 120 columns a running discrimination's counts after a preference stage make the long form wider
    than the terminal (it wrapped); the short form is taken then, and the long one wherever it fits."""
    from rich.cells import cell_len

    from lion_cli.tui.snapshot import StageView
    from lion_cli.tui.widgets.header import fitted_line

    stages = {"imitation": StageView(1, "imitation", "done", "", 10, 10),
              "preference": StageView(1, "preference", "done", "dpo", 6, 6),
              "discrimination": StageView(1, "discrimination", "running", "referee", 12_000, 24_006),
              "generation": StageView(1, "generation", "pending", "", 0, 0)}
    line = fitted_line(1, stages, 120).plain
    assert cell_len(line) <= 120 and "pref." in line and "12000/24006" in line, line
    assert "preference" in fitted_line(1, stages, 200).plain
    three = {k: v for k, v in stages.items() if k != "preference"}
    three["discrimination"] = StageView(1, "discrimination", "running", "referee", 6, 24)
    assert "discrimination" in fitted_line(1, three, 120).plain  # fits: the long form stays
