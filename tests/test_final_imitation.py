"""The final imitation's place in the loop's order (store/progress.py): after the last generation
stage, iteration `iterations` with an imitation stage only; its iteration is done with that stage;
the dashboard's stage strip shows it as one "final" stage. The whole run is tests/test_loop_e2e.py's."""

from __future__ import annotations

from pathlib import Path

from lion_cli.core.run_state import FINAL_STAGES
from lion_cli.core.types import STAGES, Stage
from lion_cli.store.db import open_store
from lion_cli.store.progress import ensure_iteration, finish_stage, next_position, start_stage
from lion_cli.tui.snapshot import StageView
from lion_cli.tui.widgets.header import iteration_line


def test_the_final_imitation_comes_after_the_last_generation(tmp_path: Path) -> None:
    with open_store(tmp_path / "lion.db") as store:
        for it in range(2):
            ensure_iteration(store, it)
            for stage in STAGES:
                assert next_position(store, 2) == (it, stage)
                start_stage(store, it, stage)
                finish_stage(store, it, stage, {})
        assert next_position(store, 2) == (2, Stage.IMITATION)
        ensure_iteration(store, 2, FINAL_STAGES)
        assert [r[0] for r in store.query("SELECT stage FROM stages WHERE iteration=2")] == ["imitation"]
        start_stage(store, 2, Stage.IMITATION)
        assert store.scalar("SELECT status FROM iterations WHERE iteration=2") == "running"
        finish_stage(store, 2, Stage.IMITATION, {"train_examples": 40})
        assert store.scalar("SELECT status FROM iterations WHERE iteration=2") == "done"
        assert next_position(store, 2) is None
        # One more planned iteration: the old final imitation's iteration becomes an ordinary one.
        assert next_position(store, 3) == (2, Stage.DISCRIMINATION)


def test_the_stage_strip_shows_the_final_imitation_alone() -> None:
    done = {"imitation": StageView(2, "imitation", "done", "", 4, 4)}
    final = iteration_line(2, done, narrow=False, final=True).plain
    assert "final imitation" in final and "discrimination" not in final and "generation" not in final
    ordinary = iteration_line(1, done, narrow=False).plain
    assert "final" not in ordinary and "discrimination" in ordinary and "generation" in ordinary
