"""`lion demo --scripted` as a user runs it, from another folder: it finishes, the terminal shows
lion's own lines only (the libraries' progress bars and DeepSpeed's accelerator warning go to
DIR/logs/libraries.log), the closing hints are commands that work from where the user stands, and
the project is named after its folder."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
LIBRARY_NOISE = ("it/s]", "Loading weights", "Writing model shards", "Setting accelerator", "[WARNING]")


def test_the_demo_is_quiet_and_its_hints_work_from_where_it_ran(tmp_path: Path) -> None:
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-m", "lion_cli", "demo", "--scripted", "my-demo", "--json"],
                          cwd=elsewhere, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    for noise in LIBRARY_NOISE:
        assert noise not in done.stdout and noise not in done.stderr, noise
    log = (elsewhere / "my-demo" / "logs" / "libraries.log").read_text(encoding="utf-8")
    assert "Setting accelerator" in log   # the noise went here, not away
    summary = json.loads(done.stdout)      # --json: one JSON object on stdout, nothing else
    assert summary["seeds"] == 50 and summary["requests"] > 0 and summary["accepted"] > 0
    command = shlex.split(summary["status_command"])
    assert command[-2:] == ["status", str(elsewhere / "my-demo")]
    status = subprocess.run([*command, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["project"] == "my-demo"
