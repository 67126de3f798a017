"""`lion init`: create a project folder with lion.toml and lion.db, seeds in both pools."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lion_cli.cli.common import CONFIG_NAME, DB_NAME, err, fail
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_OPTION, chosen_project, new_project_argument
from lion_cli.cli.project_files import STORE_FILES, clear
from lion_cli.resources import resource_file

if TYPE_CHECKING:
    from lion_cli.config import Settings
    from lion_cli.core.seeds import SeedParse


def _parse_override(raw: str, template: str) -> tuple[str, object]:
    """`section.key=value`. The value is read as JSON (numbers, booleans, lists, quoted strings),
    except for keys whose template value is a string: there the text is taken as it is, so
    `--set project.name=123` names the project "123" instead of failing validation."""
    from lion_cli.core.tomltext import get_key

    key, sep, value = raw.partition("=")
    key, text = key.strip(), value.strip()
    if not sep or not key:
        fail(f"--set {raw!r}: expected section.key=value")
    try:
        current = get_key(template, key)
    except KeyError as exc:
        fail(f"--set {raw!r}: {exc.args[0]}")
    if current is None:
        fail(f"--set {raw!r}: '{key}' is not a lion.toml key (see the commented lion.toml for every key)")
    try:
        parsed: object = json.loads(text)
    except json.JSONDecodeError:
        parsed = text  # not JSON: a plain string, which validation refuses where a number is expected
    # "auto" and "tau" stand for a computed default of a key that also takes a number (a price, a margin).
    if current.startswith(("\"", "'")) and current.strip("\"'") not in ("auto", "tau") and not isinstance(parsed, str):
        parsed = text
    if parsed is None or isinstance(parsed, dict):
        fail(f"--set {raw!r}: expected a number, boolean, string or list for '{key}'")
    return key, parsed


def render_config(name: str, seed_file: str, overrides: list[str]) -> str:
    from lion_cli.core.tomltext import set_key

    text = resource_file(CONFIG_NAME).read_text(encoding="utf-8")
    text = set_key(text, "project.name", name)
    text = set_key(text, "project.seed_file", seed_file)
    for raw in overrides:
        key, value = _parse_override(raw, text)
        text = set_key(text, key, value)
    return text


def _seed_setting(seed: Path, directory: Path) -> str:
    """project.seed_file as lion.toml keeps it: relative to the project when the file is inside it, a hub
    id as it was given."""
    if not seed.exists():
        return str(seed)
    seed = seed.resolve()
    return seed.relative_to(directory).as_posix() if seed.is_relative_to(directory) else str(seed)


def _named_paths(settings: Settings, directory: Path, seed: Path) -> dict[str, Path]:
    """The local files and folders a project's settings name (lion.toml key → path)."""
    from lion_cli.config import model_location, resolve_path

    s = settings.student
    named = {"--seed": seed.resolve()} if seed.exists() else {}  # a hub id names no local path
    for key, value in (("project.data_dir", settings.project.data_dir), ("student.hostfile", s.hostfile),
                       ("student.strategy", s.strategy if s.strategy.endswith(".json") else "")):
        if value:
            named[key] = resolve_path(directory, value)
    if s.base_model and Path(model_location(directory, s.base_model)).is_absolute():
        named["student.base_model"] = Path(model_location(directory, s.base_model))
    return named


def _replaceable(directory: Path, settings: Settings, seed: Path) -> list[Path]:
    """What `--force` clears of the project in `directory`; refuses (exit 2) while a run is alive
    there, or when the new project's own files lie in what would be cleared."""
    from lion_cli.cli.project_files import derived_paths, in_the_way
    from lion_cli.store.db import Store, connect
    from lion_cli.store.lock import LockHeld, acquire

    derived = derived_paths(directory)
    conflicts = in_the_way(derived, _named_paths(settings, directory, seed))
    if conflicts:
        fail("; ".join(conflicts) + ": `lion init --force` would delete it; move it out of there first")
    if (directory / DB_NAME).is_file():
        try:  # the old store as it is (not migrated): only its lock is looked at
            with Store(connect(directory / DB_NAME), directory / DB_NAME) as old:
                acquire(old).release()
        except LockHeld as exc:
            fail(f"{directory}: {exc}; stop it before replacing the project")
        except sqlite3.Error:
            pass  # a damaged store is replaced like any other
    return derived


def _read_seeds(seed: Path | str, columns: str | None) -> SeedParse:
    """The seed source parsed (exit 2 naming where and what was expected), with progress on stderr."""
    from lion_cli.cli.seed_progress import SeedProgress
    from lion_cli.core.seed_records import parse_column_map
    from lion_cli.core.seeds import SeedError
    from lion_cli.seeds_io.read import read_seeds

    try:
        mapping = parse_column_map(columns) if columns else None
    except ValueError as exc:
        fail(f"--seed-columns {exc}")
    progress = SeedProgress(str(seed))
    try:
        parsed = read_seeds(seed, mapping, progress.rows)
    except SeedError as exc:
        fail(str(exc))
    progress.done(len(parsed.items) + parsed.duplicates)
    return parsed


def init_project(directory: Path, seed: Path | str, *, name: str | None = None, force: bool = False,
                 overrides: list[str] | None = None, seed_columns: str | None = None) -> dict[str, object]:
    """Validate everything first, then write config and store; a failure leaves nothing behind.
    With `force`, what lion wrote for an old project there is cleared (cli/project_files.py).
    `seed` is a file, a dataset folder or a hub id (seeds_io/read.py)."""
    from lion_cli.store.bulk import collector_paused

    # One pause from the seed file's first byte to the import's commit: the collector switched back on in
    # between walks every item read so far (a tenth of the whole init on a 52K-row file).
    with collector_paused():
        return _create_project(directory, seed, name=name, force=force, overrides=overrides,
                               seed_columns=seed_columns)


def _create_project(directory: Path, seed: Path | str, *, name: str | None, force: bool,
                    overrides: list[str] | None, seed_columns: str | None) -> dict[str, object]:
    import tomllib

    from lion_cli.config import ConfigError, parse_settings
    from lion_cli.store.bulk import building
    from lion_cli.store.db import open_store
    from lion_cli.store.pools import import_seeds

    directory = directory.resolve()
    cfg_path, db_path = directory / CONFIG_NAME, directory / DB_NAME
    if directory.exists() and not directory.is_dir():
        fail(f"{directory}: exists and is not a folder")
    if (cfg_path.exists() or db_path.exists()) and not force:
        fail(f"{directory}: already a lion project (use --force to start it afresh)")
    parsed = _read_seeds(seed, seed_columns)
    text = render_config(name or directory.name, _seed_setting(Path(seed), directory), overrides or [])
    # Validate the rendered config in memory, before anything exists on disk: a bad --set value
    # must not leave even an empty project folder behind.
    try:
        settings = parse_settings(tomllib.loads(text), str(cfg_path))
    except tomllib.TOMLDecodeError as exc:  # only a template bug can cause this
        fail(f"{cfg_path}: invalid TOML after --set: {exc}")
    except ConfigError as exc:
        fail(str(exc))
    derived = _replaceable(directory, settings, Path(seed)) if force and directory.is_dir() else []

    directory.mkdir(parents=True, exist_ok=True)
    # Build the new project in a temporary folder beside it, then move it into place: an error
    # (a full disk, an interrupted import) leaves any existing project untouched.
    with tempfile.TemporaryDirectory(dir=directory, prefix=".lion-init-") as tmp:
        tmp_cfg, tmp_db = Path(tmp) / CONFIG_NAME, Path(tmp) / DB_NAME
        tmp_cfg.write_text(text, encoding="utf-8")
        with open_store(tmp_db) as store:
            with building(store):
                n = import_seeds(store, parsed.items, settings.project.name, parsed.hashes)
                store.event(f"project created with {n} seed instructions ({parsed.duplicates} duplicates dropped)")
            store.checkpoint()
        # The old store's WAL must not be replayed into the new file.
        clear([directory / name for name in STORE_FILES])
        os.replace(tmp_db, db_path)
        shutil.move(str(tmp_cfg), cfg_path)
    # After the new store is in place: an interruption here leaves stale files, never an old store
    # whose jobs were half removed (and a training job never resumes another job's checkpoint).
    clear([p for p in derived if p.name not in STORE_FILES])
    return {"project": str(directory), "seeds": n, "duplicates": parsed.duplicates, "format": parsed.fmt}


def register(app: typer.Typer) -> None:
    @app.command("init", epilog=examples(
        "lion init myproj --seed seed_tasks.jsonl",
        "lion init myproj --seed seed_tasks.jsonl --set teacher.base_url=http://127.0.0.1:8000/v1"))
    def init_cmd(
        directory: Path | None = new_project_argument("Project folder, created if missing (default: here)."),
        project_option: Path | None = PROJECT_OPTION,
        seed: str = typer.Option(..., "--seed", metavar="FILE|DIR|HUB_ID", help=(
            "Seed instructions: Alpaca JSON/JSONL, Self-Instruct seed_tasks.jsonl, ShareGPT or OpenAI "
            "`messages` JSON/JSONL (the first user turn; a system prompt becomes the input), CSV/TSV with a "
            "header, Parquet, text (one per line), a `datasets` folder (save_to_disk or data files), or a "
            "Hugging Face hub id (needs the network).")),
        seed_columns: str = typer.Option(None, "--seed-columns", metavar="FIELD=COLUMN,...", help=(
            "Which of the seed data's columns are lion's instruction, input and output, e.g. "
            "instruction=question,input=context (default: columns named instruction, input, output).")),
        name: str = typer.Option(None, "--name", help="Project name (default: the folder's name).", metavar="NAME"),
        set_: list[str] = typer.Option([], "--set", help="Override a lion.toml key, e.g. "
                                       "--set teacher.base_url=http://127.0.0.1:8000/v1", metavar="KEY=VALUE"),
        force: bool = typer.Option(False, "--force", help="Replace an existing project here: its lion.db, "
                                   "students/, evals/, run.log, demo-server.json and the exports and job folders "
                                   "it recorded inside this folder are deleted; files you put here are kept."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Create a project: lion.toml + lion.db, seeds in the Train and Cache Pools of iteration 0.

        --force starts the project afresh: everything lion wrote for the old one is deleted, so no
        answer, checkpoint or weight of it reaches the new one; it refuses while a run is alive there,
        or when a file the new settings name lies in a folder it would delete."""
        directory = chosen_project(directory, project_option) or Path(".")
        result = init_project(directory, seed, name=name, force=force, overrides=set_, seed_columns=seed_columns)
        if as_json:
            print(json.dumps(result))
        else:
            err(f"imported {result['seeds']} seed instructions ({result['format']}), "
                f"{result['duplicates']} exact duplicates dropped")
            print(f"created {result['project']}/{CONFIG_NAME} and {DB_NAME}")
            if not any(raw.partition("=")[0].strip() == "student.base_model" for raw in set_):
                err(f"next: set [student] base_model in {result['project']}/{CONFIG_NAME} (the student's starting "
                    f"point), then `lion check {result['project']}`")
