"""`lion export delta|recover|data`: delta weights, their verified recovery, the distilled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import Project, err, fail, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

export_app = typer.Typer(help="Export delta weights (and recover them), or the distilled data.",
                         no_args_is_help=True, rich_markup_mode=None, epilog=examples(
                             "lion export data --out train.json",
                             "lion export delta --base base-model --out delta --iteration 2"))



def _print(result: dict[str, Any], as_json: bool, line: str) -> None:
    print(json.dumps(result, indent=2) if as_json else line)


def _tuned_dir(directory: Path | None, iteration: int | None,
               model: Path | None) -> tuple[Path, Project | None, int | None]:
    """The tuned model's folder, the project it comes from (to record the export in) and its iteration:
    --model, or the project's student of --iteration, or by default the project's latest student."""
    if iteration is not None and model is not None:
        fail("name at most one of --iteration N or --model PATH")
    if model is not None:
        return model, None, None
    from lion_cli.store.eval_targets import iterations_with_student
    from lion_cli.store.progress import student_path

    project = open_project(directory)
    if iteration is None:
        done = iterations_with_student(project.store)
        if not done:
            fail(f"{project.dir}: no trained student yet (see `lion status`); or name one: --model PATH")
        iteration = max(done)
    found = student_path(project.store, iteration)
    if not found:
        fail(f"--iteration {iteration}: this project has no trained student for iteration {iteration}")
    return Path(found), project, iteration


def _base_dir(base: Path | None, project: Project | None) -> Path:
    """--base, or the project's [student] base_model (what its students were tuned from)."""
    if base is not None:
        return base
    if project is None:
        fail("--base DIR: the base model the --model folder was tuned from (a project knows its own)")
    from lion_cli.config import model_location

    return Path(model_location(project.dir, project.settings.student.base_model))


def _record(project: Project | None, iteration: int | None, *written: tuple[str, str | Path | None]) -> None:
    """What this export wrote, in the project's store (`lion init --force` clears it when inside)."""
    from lion_cli.store.outputs import record_export

    for kind, path in written:
        if project is not None and path:
            record_export(project.store, kind, path, iteration)


@export_app.command("delta", epilog=examples(
    "lion export delta --base base-model --out delta --iteration 2",
    "lion export delta --base base-model --out delta --model student-out --dtype bf16"))
def delta_cmd(
    base: Path = typer.Option(None, "--base", help="The base model folder the student was tuned from (default: the "
                              "project's [student] base_model).", metavar="DIR"),
    out: Path = typer.Option(..., "--out", help="Folder to write the delta into.", metavar="DIR"),
    iteration: int = typer.Option(None, "--iteration", help="The project's student of this iteration (default: its "
                                  "latest).", metavar="N"),
    model: Path = typer.Option(None, "--model", help="A tuned model folder.", metavar="DIR"),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32 (exact, bit for bit) | bf16 | fp16 (half size, lossy).",
                              metavar="DTYPE"),
    directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write tuned − base as safetensors with a manifest (per-tensor SHA-256 of the recovered model)."""
    from lion_cli.export.delta import make_delta
    from lion_cli.export.tensors import ExportError

    tuned, project, of_iteration = _tuned_dir(chosen_project(directory, project_option), iteration, model)
    base = _base_dir(base, project)
    err(f"delta: {tuned} − {base} → {out} ({dtype})")
    try:
        manifest = make_delta(tuned, base, out, dtype)
    except ExportError as exc:
        fail(str(exc))
    _record(project, of_iteration, ("delta", out))
    result = {"out": str(out), "dtype": dtype, "tensors": len(manifest["tuned"]["tensors"]),
              "exact": manifest["exact"], "max_abs_error": manifest["max_abs_error"], "fixups": manifest["fixups"]}
    _print(result, as_json, f"wrote {result['tensors']} tensors to {out} ({dtype}; "
           + ("exact" if manifest["exact"] else f"max abs error {manifest['max_abs_error']:.3g}") + ")")


@export_app.command("recover", epilog=examples(
    "lion export recover --base base-model --delta delta --out recovered"))
def recover_cmd(
    base: Path = typer.Option(..., "--base", help="The base model folder (the same as for `export delta`).",
                              metavar="DIR"),
    delta: Path = typer.Option(..., "--delta", help="The delta folder: lion's (with manifest.json), or the "
                               "official Lion weight diff (a full model folder of tuned − raw).", metavar="DIR"),
    out: Path = typer.Option(..., "--out", help="Folder to write the recovered model into (new or empty).",
                             metavar="DIR"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Rebuild the tuned model from base + delta: lion's delta verified tensor by tensor against its
    manifest, or the official Lion weight diff (recognised by itself: no manifest)."""
    from lion_cli.export.recover import recover
    from lion_cli.export.tensors import ExportError
    from lion_cli.export.weight_diff import is_official_diff, recover_official

    official = is_official_diff(delta)
    try:
        result = recover_official(base, delta, out) if official else recover(base, delta, out)
    except ExportError as exc:
        fail(str(exc))
    if official:
        _print(result, as_json, f"recovered {result['tensors']} tensors into {out} from the official weight diff"
               + (" (the base was first given a [PAD] token)" if result["base_given_pad_token"] else ""))
        return
    _print(result, as_json, f"recovered {result['tensors']} tensors into {out}; every SHA-256 matches the manifest")


def _data_format(fmt: str | None, out: Path) -> str:
    from lion_cli.export.data_formats import FORMATS, format_from_name

    chosen = fmt or format_from_name(out)
    if chosen is None:
        fail(f"--out {out}: the name does not say the format (.json alpaca, .jsonl, .sharegpt.json, .openai.jsonl, "
             ".parquet, a folder for hf); name it with --format")
    if chosen not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, got {chosen!r}")
    return chosen


def _check_overwrite(paths: list[Path], force: bool) -> None:
    """Nothing already there is replaced without --force (an empty folder is not 'there')."""
    taken = [p for p in paths if p.is_file() or (p.is_dir() and any(p.iterdir()))]
    if taken and not force:
        fail(f"{', '.join(map(str, taken))}: already exists (--force replaces it)")


@export_app.command("data", epilog=examples(
    "lion export data --out train.json", "lion export data --out train.jsonl --iteration 1 --no-pairs"))
def data_cmd(
    out: Path = typer.Option(..., "--out", metavar="PATH", help="File to write (a folder for hf)."),
    fmt: str = typer.Option(None, "--format", help="alpaca | jsonl | sharegpt | openai | parquet | hf (default: "
                            "from --out: .json alpaca, .jsonl, .sharegpt.json, .openai.jsonl, .parquet, "
                            "a folder or a name without a suffix hf).", metavar="FORMAT"),
    iteration: int = typer.Option(None, "--iteration", metavar="N", help="What this iteration's student was "
                                  "trained on, and the pairs it was judged on (default: every Train Pool "
                                  "instruction with a teacher answer, and every judged pair)."),
    pairs: bool = typer.Option(True, "--pairs/--no-pairs", help="Also write the judged pairs in TRL's DPO layout "
                               "(<out>.pairs.jsonl; .pairs.parquet for parquet; pairs.jsonl inside an hf folder)."),
    force: bool = typer.Option(False, "--force", help="Replace files that are already there."),
    directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Export the distilled training set and the judged (teacher, student) pairs."""
    from lion_cli.cli.wiring import answer_keys
    from lion_cli.export.data import ExportSource, export_data
    from lion_cli.export.data_formats import pairs_path
    from lion_cli.prompts_loader import load_role_prompts
    from lion_cli.store.exports import iteration_numbers

    fmt = _data_format(fmt, out)
    project = open_project(chosen_project(directory, project_option))
    known = iteration_numbers(project.store)
    if iteration is not None and iteration not in known:
        fail(f"--iteration {iteration}: this project has " + (f"iterations {known[0]}–{known[-1]}" if known
                                                               else "no iterations yet"))
    targets = [out / "train.jsonl", out / "README.md"] if fmt == "hf" else [out]
    _check_overwrite(targets + ([pairs_path(out, fmt)] if pairs else []), force)
    prompts = load_role_prompts(protocol=project.settings.loop.protocol)   # the teacher's, for its answers' key
    src = ExportSource(project.store, answer_keys(project.settings, prompts),
                       project.settings.loop.train_from)
    try:
        result = export_data(src, fmt, out, iteration, with_pairs=pairs)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    _record(project, iteration, ("data", out), ("pairs", result["pairs_out"]))
    _print(result, as_json, f"wrote {result['examples']} examples to {out} ({fmt})"
           + (f" and {result['pairs']} judged pairs to {result['pairs_out']}" if result["pairs_out"] else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
