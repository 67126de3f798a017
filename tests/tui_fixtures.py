"""Fixture stores for the dashboard tests and bench: known rows written with plain SQL in the
schema of migrations/, so every number a panel shows can be checked by hand.

`build_known_project` is a run in iteration 1's discrimination (referee 6/24) after a finished
iteration 0. Its numbers, as the panels must show them:
- API: teacher 12 calls ($0.024, 2 × 429, 3 retries), referee 18 ($0.018), generator 7 ($0.0035);
  spent $0.0455 of a $5 budget; in the minute before CLOCK: teacher 2 calls / 600 tokens used, 2,448
  reserved (the limiter's 200-token prompt estimate + max_tokens 1024 each: tpm 10,000 lets 8.2 a minute
  through, under rpm 60: TPM-bound by max_tokens); referee and generator reserve 300 + 512 and 50 + 512.
- iteration 0 labels: hard 3, easy 4, unscored 1 → hard rate 3/7; one order flip in 7 → 0.857.
- iteration 0 candidates: 4 accepted, rejected "too similar" 2, "too short" 1.
- training job 2 (it1): 10 steps of 10, loss 1.50 → 0.60, 1500 tokens/s, output /students/iter-1; both
  training jobs log a step a second; student generation job 3 (it0): 8 rows in 16 s.
- eval: student-it0 BBH (30 % + 34 %)/2 = 32.0 on 2 of 23 tasks (the paper's Lion-7B on those two:
  (34.0 + 49.2)/2 = 41.6), AGIEval 25.0 on 1 of 8, Vicuna-80 91.25 % (its 'overall' row, not the mean
  with the 'writing' category); in loglik mode BBH 40.0 on 1 task.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

from lion_cli.store.db import open_store

REPO = Path(__file__).resolve().parents[1]
CLOCK = datetime(2025, 1, 1, 1, 30, tzinfo=UTC).timestamp()   # "now" for every frozen-clock test
DEAD_PID = 2**30   # above any Linux pid_max: os.kill reports no such process

SETTINGS = {
    "project": {"name": "fixture-lion"},
    "loop": {"iterations": 3, "new_per_iteration": 4, "tau": 1.0, "hard_ratio": 0.5},
    "teacher": {"model": "gpt-x", "rpm": 60, "tpm": 10000, "max_tokens": 1024,
                "price_input_per_1k": 0.0015, "price_output_per_1k": 0.002},
    "referee": {"model": "gpt-x", "rpm": 120, "tpm": 20000, "max_tokens": 512,
                "price_input_per_1k": 0.0015, "price_output_per_1k": 0.002},
    "generator": {"model": "gpt-x", "rpm": 30, "tpm": 5000, "max_tokens": 512,
                  "price_input_per_1k": 0.0015, "price_output_per_1k": 0.002},
    "budget": {"max_usd": 5.0},
}

SEEDS = ["Write a haiku about the sea.", "Explain photosynthesis to a child.", "List three prime numbers.",
         "Translate 'good morning' into French.", "Summarise the plot of Hamlet.", "Give a recipe for pancakes.",
         "What causes rain?", "Describe a cat in two sentences."]
NEW = [("hard", "Write a limerick about a lighthouse keeper.", 1), ("hard", "Explain osmosis to a teenager.", 2),
       ("easy", "List three even numbers above ten.", 3), ("easy", "Translate 'thank you' into Welsh.", 4)]

# iteration-0 verdicts per seed: (teacher_first scores, student_first scores) as (teacher, student);
# None = an unreadable reply. Labels: gap = mean teacher − mean student, hard if ≥ τ = 1.
VERDICTS = {1: ((9, 5), (9, 6)), 2: ((8, 6), (8, 7)), 3: ((7, 6), (8, 6)), 4: ((8, 8), (8, 8)),
            5: ((7, 7), (6, 7)), 6: ((6, 7), (7, 8)), 7: ((8, 8), (8, 7.5)), 8: None}


def write_config(project_dir: Path, name: str = "fixture-lion") -> None:
    text = (REPO / "lion.toml").read_text(encoding="utf-8")
    (project_dir / "lion.toml").write_text(text.replace('name = "lion-project"', f'name = "{name}"', 1),
                                           encoding="utf-8")


def build_empty_project(project_dir: Path, name: str = "fixture-lion") -> Path:
    """`lion init` state: the seeds in both pools of iteration 0, nothing else."""
    project_dir.mkdir(parents=True, exist_ok=True)
    write_config(project_dir, name)
    with open_store(project_dir / "lion.db") as store, store.tx() as c:
        c.execute("INSERT INTO project (id, name, created_at) VALUES (1, ?, '2025-01-01T00:00:00Z')", (name,))
        c.execute("INSERT INTO iterations (iteration) VALUES (0)")
        for n, text in enumerate(SEEDS, start=1):
            c.execute("INSERT INTO instructions (id, content_hash, text, origin, iteration) VALUES (?,?,?,?,0)",
                      (n, f"h{n}", text, "seed"))
            for pool in ("train", "cache"):
                c.execute("INSERT INTO pool_members VALUES (0, ?, ?)", (pool, n))
    return project_dir


def _label(v: tuple[tuple[float, float], tuple[float, float]] | None) -> tuple:
    if v is None:
        return (None, None, None, "unscored", None)
    (t1, s1), (t2, s2) = v
    t, s = (t1 + t2) / 2, (s1 + s2) / 2
    flip = int((t1 > s1) != (t2 > s2))
    return (t, s, t - s, "hard" if t - s >= 1.0 else "easy", flip)


def build_known_project(project_dir: Path, *, run_pid: int | None = None, run_status: str = "running") -> Path:
    build_empty_project(project_dir)
    pid = os.getpid() if run_pid is None else run_pid
    with open_store(project_dir / "lion.db") as store, store.tx() as c:
        c.execute("INSERT INTO runs (id, started_at, finished_at, status, pid, host, settings_json, lion_version)"
                  " VALUES (1, '2025-01-01T00:00:00Z', '2025-01-01T00:10:00Z', 'interrupted', 1, 'h', ?, '0.1')",
                  (json.dumps(SETTINGS),))
        c.execute("INSERT INTO runs (id, started_at, status, pid, host, settings_json, lion_version)"
                  " VALUES (2, '2025-01-01T01:00:00.000Z', ?, ?, ?, ?, '0.1')",
                  (run_status, pid, socket.gethostname(), json.dumps(SETTINGS)))
        c.execute("UPDATE iterations SET status='done', student_path='/students/iter-0' WHERE iteration=0")
        c.execute("INSERT INTO iterations (iteration, status, student_path) VALUES (1, 'running', '/students/iter-1')")
        for st in ("imitation", "discrimination", "generation"):
            c.execute("INSERT INTO stages (iteration, stage, status, done, total) VALUES (0, ?, 'done', 8, 8)", (st,))
        c.execute("INSERT INTO stages (iteration, stage, status, done, total) VALUES (1, 'imitation', 'done', 4, 4)")
        c.execute("INSERT INTO stages (iteration, stage, status, step, done, total)"
                  " VALUES (1, 'discrimination', 'running', 'referee', 6, 24)")
        c.execute("INSERT INTO stages (iteration, stage) VALUES (1, 'generation')")
        for n, (origin, text, parent) in enumerate(NEW, start=9):
            c.execute("INSERT INTO instructions (id, content_hash, text, origin, parent_id, iteration)"
                      " VALUES (?,?,?,?,?,1)", (n, f"h{n}", text, origin, parent))
            c.execute("INSERT INTO pool_members VALUES (1, 'train', ?)", (n,))
        for n in range(1, 13):
            c.execute("INSERT INTO pool_members VALUES (1, 'cache', ?)", (n,))
            c.execute("INSERT INTO responses (instruction_id, role, model, settings_hash, iteration, text)"
                      " VALUES (?, 'teacher', 'gpt-x', 't', ?, ?)", (n, 0 if n <= 8 else 1, f"teacher answer {n}"))
        for n in range(1, 9):
            c.execute("INSERT INTO responses (instruction_id, role, model, settings_hash, iteration, text)"
                      " VALUES (?, 'student', 'student-it0', 's', 0, ?)", (n, f"student answer {n} (it0)"))
        for n, v in VERDICTS.items():
            for order, pair in zip(("teacher_first", "student_first"), v or (None, None), strict=True):
                if pair is None:
                    for attempt in (0, 1):
                        c.execute("INSERT INTO judgements (instruction_id, iteration, order_name, attempt,"
                                  " referee_model, raw_text, parse_error) VALUES (?, 0, ?, ?, 'gpt-x', ?, 'no scores')",
                                  (n, order, attempt, f"I cannot decide ({order})"))
                    continue
                first, second = pair if order == "teacher_first" else pair[::-1]
                c.execute("INSERT INTO judgements (instruction_id, iteration, order_name, referee_model, raw_text,"
                          " teacher_score, student_score) VALUES (?, 0, ?, 'gpt-x', ?, ?, ?)",
                          (n, order, f"{first} {second}\nReferee on {order} for {n}.", pair[0], pair[1]))
            c.execute("INSERT INTO labels VALUES (0, ?, ?, ?, ?, ?, ?)", (n, *_label(v)))
        for slot, (ok, reason, iid) in enumerate([(1, None, 9), (0, "too similar", None), (1, None, 10),
                                                  (0, "too short", None), (1, None, 11), (0, "too similar", None),
                                                  (1, None, 12)]):
            text = NEW[iid - 9][1] if iid else f"rejected candidate {slot}"
            c.execute("INSERT INTO candidates (iteration, slot, kind, seed_instruction_id, raw_text, text, accepted,"
                      " reject_reason, instruction_id) VALUES (0, ?, ?, 1, ?, ?, ?, ?, ?)",
                      (slot, NEW[iid - 9][0] if iid else "easy", text, text, ok, reason, iid))
        _api_calls(c)
        for job, it in ((1, 0), (2, 1)):
            c.execute("INSERT INTO train_jobs (id, iteration, kind, status, spec_json, output_dir, total_steps)"
                      " VALUES (?, ?, 'train', 'done', '{}', ?, 10)", (job, it, f"/students/iter-{it}"))
            for step in range(1, 11):
                c.execute("INSERT INTO train_metrics (job_id, step, epoch, loss, lr, tokens, tokens_per_s, ts)"
                          " VALUES (?, ?, ?, ?, 2e-5, ?, 1500.0, ?)",
                          (job, step, step / 10, round(2.0 - 0.1 * (step - 1) - 0.5 * it, 2), step * 1000,
                           CLOCK - 600 + step))
        # iteration 0's student answered its 8 Cache Pool instructions in 16 s: 0.5 rows/s
        c.execute("INSERT INTO train_jobs (id, iteration, kind, status, spec_json, output_dir, total_steps, started_at,"
                  " finished_at) VALUES (3, 0, 'generate', 'done', '{}', '/students/iter-0/answers', 8,"
                  " '2025-01-01T00:20:00.000Z', '2025-01-01T00:20:16.000Z')")
        for task, acc in (("date_understanding", 0.30), ("navigate", 0.34)):
            c.execute("INSERT INTO eval_results (model, iteration, benchmark, task, mode, n, correct, accuracy)"
                      " VALUES ('student-it0', 0, 'bbh', ?, 'generate', 100, ?, ?)", (task, acc * 100, acc))
        c.execute("INSERT INTO eval_results (model, iteration, benchmark, task, mode, n, correct, accuracy)"
                  " VALUES ('student-it0', 0, 'agieval', 'lsat-lr', 'generate', 100, 25, 0.25)")
        for bench, task, mode, acc in (("bbh", "date_understanding", "loglik", 0.40),
                                       ("vicuna", "writing", "judge", 0.80), ("vicuna", "overall", "judge", 0.9125)):
            c.execute("INSERT INTO eval_results (model, iteration, benchmark, task, mode, n, correct, accuracy)"
                      " VALUES ('student-it0', 0, ?, ?, ?, 10, 1, ?)", (bench, task, mode, acc))
        for k, (level, msg) in enumerate([("info", "run: iteration 0 imitation"), ("info", "it0 trained"),
                                          ("warning", "teacher: 429, waiting 2 s"), ("info", "run: resume it1"),
                                          ("info", "it1 discrimination · referee")]):
            c.execute("INSERT INTO events (ts, level, iteration, message) VALUES (?, ?, ?, ?)",
                      (CLOCK - 300 + k * 10, level, 0 if k < 3 else 1, msg))
    return project_dir


def _api_calls(c: object) -> None:
    rows = []
    for k in range(12):   # teacher: the last two finished in the minute before CLOCK
        ts = CLOCK - 30 if k >= 10 else CLOCK - 3600 + k
        rows.append((ts, "teacher", 100, 200, 0.002, 1 if k < 3 else 0, 1 if k < 2 else 0, 1224))
    rows += [(CLOCK - 3000 + k, "referee", 300, 20, 0.001, 0, 0, 812) for k in range(18)]
    rows += [(CLOCK - 2000 + k, "generator", 50, 60, 0.0005, 0, 0, 562) for k in range(7)]
    c.executemany("INSERT INTO api_calls (ts, role, model, base_url, status, ok, prompt_tokens, completion_tokens,"  # type: ignore[attr-defined]
                  " cost_usd, retries, rate_limited, reserved_tokens)"
                  " VALUES (?, ?, 'gpt-x', 'http://api', 200, 1, ?, ?, ?, ?, ?, ?)", rows)


def copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def screen_text(app: object) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def until(pilot: object, cond: object, timeout: float = 5.0) -> None:
    """Let the app run until `cond()` holds (a worker's refresh landed), failing after `timeout` s."""
    waited = 0.0
    while not cond():  # type: ignore[operator]
        assert waited < timeout, "condition not reached"
        await pilot.pause(0.02)  # type: ignore[attr-defined]
        waited += 0.02
