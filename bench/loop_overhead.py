"""Loop overhead: the share of a scripted run's wall time spent outside API calls, training and
student generation (target ≤ 2 %), and `lion resume` start-up on a 70,000-instruction project paused in
its generation stage, as a ratio of `lion status` on the same project (target ≤ 5).

The first is measured in-process: every engine call, training job and generation job records its
(start, end); the union of those intervals is "work", the rest of the loop's wall time is overhead.
Run: .venv/bin/python bench/loop_overhead.py
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# A resume of a 70K project rebuilds the Cache Pool's novelty index and writes the next pools: a few
# times what `lion status` (process start, store open, totals) costs, not more.
RESUME_RATIO_TARGET = 5.0
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))



def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def measure_overhead(tmp: Path) -> dict[str, Any]:
    import lion_cli.student.jobs as jobs
    from lion_cli.cli.common import open_project
    from lion_cli.cli.demo import scripted_project
    from lion_cli.cli.wiring import build_context
    from lion_cli.demo.tiny_model import build_tiny_model
    from lion_cli.pipeline.loop import run_loop
    from lion_cli.server.process import running_server

    spans: list[tuple[float, float]] = []

    def timed(fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.monotonic()
            try:
                return fn(*a, **k)
            finally:
                spans.append((t, time.monotonic()))
        return wrapper

    jobs.train = timed(jobs.train)  # type: ignore[assignment]
    jobs.generate = timed(jobs.generate)  # type: ignore[assignment]
    student = build_tiny_model(tmp / "student")
    with running_server(backend="scripted", latency=(0.1, 0.4)) as url:
        project_dir = scripted_project(tmp, url, student, iterations=1, new=24, seeds=50)
        project = open_project(project_dir)
        ctx = build_context(project.dir, project.settings, project.store)
        chat = ctx.engine.chat

        async def timed_chat(*a: Any, **k: Any) -> Any:
            t = time.monotonic()
            try:
                return await chat(*a, **k)
            finally:
                spans.append((t, time.monotonic()))

        ctx.engine.chat = timed_chat  # type: ignore[method-assign]

        async def go() -> None:
            try:
                await run_loop(ctx, 1)
            finally:
                await ctx.engine.aclose()

        t0 = time.monotonic()
        asyncio.run(go())
        wall = time.monotonic() - t0
    work = _union(spans)
    return {"wall_s": wall, "work_s": work, "overhead_share": (wall - work) / wall}


def build_big_project(tmp: Path, settings: list[str], n: int = 70_000) -> Path:
    """A project paused in iteration 0's generation stage with its quota already decided, so
    `lion resume` must open the store, load 70K cached token lists, replay and finish."""
    from lion_cli.cli.init import init_project
    from lion_cli.core.novelty import tokenize

    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    words += ["write", "explain", "list", "compare", "summarize", "describe", "a", "the", "of", "to"]
    texts = sorted({" ".join(rng.choice(words) for _ in range(rng.randint(5, 30))) for _ in range(n + 100)})[:n]
    tmp.mkdir(parents=True, exist_ok=True)
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(texts[:10]) + "\n")
    project = tmp / "big"
    init_project(project, seeds, overrides=[*settings, "loop.iterations=1", "loop.new_per_iteration=100"])
    conn = sqlite3.connect(project / "lion.db", isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO instructions (content_hash, text, input, origin, iteration, tokens)"
                     " VALUES (?, ?, '', 'seed', 0, ?)",
                     ((f"h{i}", t, " ".join(tokenize(t))) for i, t in enumerate(texts[10:])))
    ids = [r[0] for r in conn.execute("SELECT id FROM instructions")]
    conn.executemany("INSERT OR IGNORE INTO pool_members VALUES (0, 'cache', ?)", ((i,) for i in ids))
    conn.executemany("INSERT INTO responses (instruction_id, role, model, settings_hash, iteration, text)"
                     " VALUES (?, 'teacher', 'gpt-3.5-turbo', 'x', 0, 'an answer')", ((i,) for i in ids))
    conn.executemany("INSERT INTO labels VALUES (0, ?, 9, 5, 4, 'hard', 0)", ((i,) for i in ids[: n // 2]))
    conn.executemany("INSERT INTO labels VALUES (0, ?, 9, 9, 0, 'easy', 0)", ((i,) for i in ids[n // 2:]))
    conn.execute("INSERT OR IGNORE INTO iterations (iteration) VALUES (0)")
    for stage in ("imitation", "discrimination"):
        conn.execute("INSERT OR REPLACE INTO stages (iteration, stage, status) VALUES (0, ?, 'done')", (stage,))
    conn.execute("INSERT OR REPLACE INTO stages (iteration, stage, status) VALUES (0, 'generation', 'running')")
    for slot in range(100):
        text = f"brand new instruction number {slot} about topic {slot * 7}"
        conn.execute("INSERT INTO instructions (content_hash, text, origin, iteration) VALUES (?, ?, 'hard', 1)",
                     (f"new{slot}", text))
        iid = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        conn.execute("INSERT INTO candidates (iteration, slot, kind, seed_instruction_id, raw_text, text,"
                     " accepted, instruction_id) VALUES (0, ?, ?, ?, ?, ?, 1, ?)",
                     (slot, "hard" if slot % 2 == 0 else "easy", ids[slot], text, text, iid))
    conn.execute("COMMIT")
    conn.close()
    return project


def measure_resume(tmp: Path) -> tuple[float, float]:
    """`lion resume` against the scripted server with the demo's settings (a project that passes
    lion check), so the time is the loop's start-up, not a refusal."""
    from lion_cli.cli.demo import demo_overrides
    from lion_cli.demo.tiny_model import build_tiny_model
    from lion_cli.server.process import running_server

    student = build_tiny_model(tmp / "student")
    with running_server(backend="scripted", latency=(0.1, 0.4)) as url:
        project = build_big_project(tmp, demo_overrides(url, "scripted", student, real_model=False))
        # A resume follows a run that checked the base model; the check remembers the folder, so
        # warm that memory the way the earlier run would have.
        subprocess.run([sys.executable, "-m", "lion_cli", "check", str(project)], capture_output=True, check=True)
        # `lion run` on a paused project is `lion resume` (cli/run.py: only the log word differs); --until
        # generation stops where the paused stage ends, before the final imitation, which a one-iteration
        # run now goes on to and which would train on all 70K rows (that is training time, not start-up).
        t = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "lion_cli", "run", str(project), "--until", "generation"],
                             capture_output=True, text=True)
        elapsed = time.monotonic() - t
        t = time.monotonic()
        subprocess.run([sys.executable, "-m", "lion_cli", "status", str(project)], capture_output=True, check=True)
        baseline = time.monotonic() - t
    if out.returncode != 0:
        raise SystemExit(f"lion resume failed:\n{out.stderr[-3000:]}")
    return elapsed, baseline


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        ov = measure_overhead(Path(d) / "a")
        print(f"scripted run: wall {ov['wall_s']:.1f} s, API/train/generate {ov['work_s']:.1f} s, "
              f"overhead {100 * ov['overhead_share']:.2f} %", file=sys.stderr)
        print(json.dumps({"bench": "loop_overhead_share", "value": round(ov["overhead_share"], 4),
                          "target": 0.02, "ok": ov["overhead_share"] <= 0.02}))
        resume_s, status_s = measure_resume(Path(d) / "b")
        ratio = resume_s / status_s
        print(f"lion resume on a 70,000-instruction project: {resume_s:.2f} s; lion status on it (the baseline: "
              f"the same process start and store open) {status_s:.2f} s; ratio {ratio:.2f}", file=sys.stderr)
        print(json.dumps({"bench": "resume_startup", "value": round(ratio, 2), "target": RESUME_RATIO_TARGET,
                          "ok": ratio <= RESUME_RATIO_TARGET, "resume_s": round(resume_s, 2),
                          "status_s": round(status_s, 2)}))
        share_ok = ov["overhead_share"] <= 0.02 and ratio <= RESUME_RATIO_TARGET
        print(json.dumps({"bench": "loop_overhead", "value": round(ov["overhead_share"], 4), "target": 0.02,
                          "ok": share_ok}))


if __name__ == "__main__":
    main()
