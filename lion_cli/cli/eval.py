"""`lion eval bbh|agieval|vicuna`: score a student, store the results, print them beside the paper."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from lion_cli.cli.common import CONFIG_NAME, DB_NAME, Project, err, fail, find_project_dir, open_project
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_ARGUMENT, PROJECT_OPTION, chosen_project

if TYPE_CHECKING:
    from lion_cli.core.role_prompts import RolePrompts
    from lion_cli.eval.targets import EvalTarget
    from lion_cli.eval.vicuna import JudgePlan, Question, VicunaOutcome
    from lion_cli.student.specs import LaunchConfig, PromptFormat

eval_app = typer.Typer(help="Evaluate a student on BBH, AGIEval (accuracy) or Vicuna-80 (judged).",
                       no_args_is_help=True, rich_markup_mode=None, epilog=examples(
                           "lion eval bbh --iteration 0", "lion eval agieval --all-iterations",
                           "lion eval vicuna --iteration 0 --setting 1"))

_MODEL = typer.Option(None, "--model", help="A model folder to evaluate (HF format, safetensors).", metavar="DIR")
_ITER = typer.Option(None, "--iteration", help="Evaluate the project's student of this iteration (default, in a "
                     "project: its latest trained student).", metavar="N")
_ALL = typer.Option(False, "--all-iterations", help="Evaluate every iteration's student; print the curve.")
_LIMIT = typer.Option(None, "--limit", help="Only the first N examples of each task.", metavar="N")
_DATA = typer.Option(None, "--data-dir", help="Folder with bbh/, agieval/, vicuna/ (default: [project] "
                     "data_dir, else lion's cache, downloaded and hash-checked when absent).", metavar="DIR")
_FORMAT = typer.Option(None, "--prompt-format", help="alpaca | chat (default: the layout recorded in a model "
                       "lion trained, else the project's [student] prompt_format for its students, else chat "
                       "for a model with a chat template; any other model needs it).", metavar="FORMAT")
_BATCH = typer.Option(16, "--batch-size", help="Prompts per forward pass.", metavar="N")
_JSON = typer.Option(False, "--json", help="Print the results as JSON.")


def _split(values: list[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def _maybe_project(directory: Path | None, required: bool) -> Project | None:
    d = find_project_dir(directory)
    if (d / CONFIG_NAME).exists() and (d / DB_NAME).exists():
        return open_project(d)
    if required:
        fail(f"{d}: no lion project here (--iteration, --all-iterations and vicuna need one; "
             "pass --project or run inside a project folder)")
    return None


def _targets(project: Project | None, model: Path | None, iteration: int | None, all_its: bool) -> list[EvalTarget]:
    from lion_cli.eval.targets import TargetError, all_iteration_targets, iteration_target, model_target

    named = sum((model is not None, iteration is not None, all_its))
    if named > 1:
        fail("name at most one of --model PATH, --iteration N or --all-iterations")
    if named == 0:   # in a project: its latest trained student, the one a user means
        if project is None:
            fail("outside a project, name the model: --model PATH (or run inside a project folder / pass -C DIR)")
        return [_latest_student(project)]
    try:
        if model is not None:
            return [model_target(model)]
        assert project is not None
        if all_its:
            return all_iteration_targets(project.store)
        return [iteration_target(project.store, int(iteration))]  # type: ignore[arg-type]
    except TargetError as exc:
        fail(str(exc))


def _latest_student(project: Project) -> EvalTarget:
    from lion_cli.eval.targets import TargetError, iteration_target
    from lion_cli.store.eval_targets import iterations_with_student

    done = iterations_with_student(project.store)
    if not done:
        fail(f"{project.dir}: no trained student yet (see `lion status`); or name one: --model PATH")
    try:
        return iteration_target(project.store, max(done))
    except TargetError as exc:
        fail(str(exc))


def _data_dir(project: Project | None, data_dir: Path | None) -> Path | None:
    if data_dir is not None or project is None or not project.settings.project.data_dir:
        return data_dir
    from lion_cli.config import resolve_path

    return resolve_path(project.dir, project.settings.project.data_dir)


def _launch(project: Project | None) -> LaunchConfig:
    from lion_cli.student.specs import LaunchConfig

    if project is None:
        return LaunchConfig("python")
    from lion_cli.pipeline.student_specs import launch_config

    return launch_config(project.settings, for_generation=True, project_dir=project.dir)


def _work_dir(project: Project | None, target: EvalTarget, what: str) -> Path:
    if project is None:
        return Path(tempfile.mkdtemp(prefix=f"lion-eval-{what}-"))
    return project.dir / "evals" / re.sub(r"[^A-Za-z0-9_.-]+", "_", target.label).strip("_") / what


def _recorded_format(path: Path) -> str | None:
    """The layout lion wrote beside a model it trained (lion-prompt.json), if any."""
    from lion_cli.student.specs.train import PROMPT_RECORD

    try:
        return str(json.loads((path / PROMPT_RECORD).read_text(encoding="utf-8"))["prompt_format"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    try:
        return bool(json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError, AttributeError):
        return False


def _prompt_format(project: Project | None, target: EvalTarget, given: str | None, needed: bool = True) -> str:
    """--prompt-format; else the layout recorded in the model folder; else, for a project's own
    student, the project's; else chat when the model has a chat template. A model with none of
    these cannot be asked in a known layout: exit 2, asking for --prompt-format."""
    fmt = given or _recorded_format(target.path)
    if fmt is None and project is not None and target.iteration is not None:
        fmt = project.settings.student.prompt_format
    if fmt is None and _has_chat_template(target.path):
        fmt = "chat"
    if fmt is None:
        if not needed:
            return "alpaca"  # the protocol sends its prompts as text: the layout is never used
        fail(f"--model {target.path}: no lion-prompt.json (not a model lion trained) and no chat template; "
             "pass --prompt-format alpaca or --prompt-format chat to say how to ask it")
    return fmt


def _student(project: Project | None, target: EvalTarget, what: str, prompt_format: str | None,
             batch_size: int, max_new_tokens: int, format_needed: bool = True) -> Any:
    from lion_cli.eval.student_backend import StudentModel
    from lion_cli.student.specs import PROMPT_FORMATS

    fmt = _prompt_format(project, target, prompt_format, format_needed)
    if fmt not in PROMPT_FORMATS:
        fail(f"--prompt-format: expected {' or '.join(PROMPT_FORMATS)}, got {fmt!r}")
    return StudentModel(target.path, _work_dir(project, target, what), _launch(project),
                        prompt_format=cast("PromptFormat", fmt),  # one of PROMPT_FORMATS: checked above
                        max_new_tokens=max_new_tokens, batch_size=batch_size)


def _evaluator(benchmark: str, protocol: str, modes: list[str], items: dict[str, Any], max_new_tokens: int | None
               ) -> Any:  # -> Callable[[StudentModel], list[TaskResult]]
    """What one target's evaluation runs: lion's modes, or another protocol's whole chain."""
    if protocol == "lion":
        from lion_cli.eval.bench import run_modes

        return lambda student: run_modes(items, modes, student.replies, student.option_scores)
    from lion_cli.eval.protocol_run import get_protocol, run_protocol

    chosen = get_protocol(protocol)
    return lambda student: run_protocol(benchmark, items, chosen, generate=student.generate,
                                        score=student.option_scores, max_new_tokens=max_new_tokens)


def _load(benchmark: str, protocol: str, tasks: list[str], all_tasks: bool, mode: str | None, limit: int | None,
          data_dir: Path | None) -> tuple[list[str], list[str], dict[str, Any]]:
    """(tasks, lion's modes, items) for the run; a bad task, mode, protocol or data file exits 2."""
    from lion_cli.core.bench_tasks import BenchDataError
    from lion_cli.eval.bench import EvalInputError, load_task_items, select_tasks
    from lion_cli.eval.data import DataError
    from lion_cli.eval.protocol_run import get_protocol, load_task_examples
    from lion_cli.eval.protocols import PROTOCOLS

    if protocol not in PROTOCOLS:
        fail(f"--protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if protocol != "lion" and mode is not None:
        fail(f"--mode belongs to --protocol lion; protocol {protocol} fixes how it asks and scores")
    mode = mode or "generate"
    if mode not in ("generate", "loglik", "both"):
        fail(f"--mode: expected generate, loglik or both, got {mode!r}")
    modes = ["generate", "loglik"] if mode == "both" else [mode]
    select_mode = get_protocol(protocol).mode(benchmark) if protocol != "lion" else (
        "generate" if mode == "both" else mode)
    try:
        chosen = select_tasks(benchmark, tasks, all_tasks=all_tasks, mode=select_mode)
        if protocol == "lion":
            return chosen, modes, dict(load_task_items(benchmark, chosen, limit=limit, data_dir=data_dir))
        if limit is not None and limit < 1:
            raise EvalInputError(f"--limit: expected a positive number, got {limit}")
        return chosen, modes, dict(load_task_examples(benchmark, chosen, limit=limit, data_dir=data_dir))
    except (EvalInputError, DataError, BenchDataError) as exc:
        fail(str(exc))


def run_benchmark(benchmark: str, *, directory: Path | None, model: Path | None, iteration: int | None,
                  all_its: bool, tasks: list[str], all_tasks: bool, protocol: str, mode: str | None,
                  limit: int | None, data_dir: Path | None, prompt_format: str | None, batch_size: int,
                  max_new_tokens: int | None, as_json: bool) -> None:
    from lion_cli.eval.harness_rules import HarnessUnavailable
    from lion_cli.eval.results import format_table, learning_curve, result_dicts, store_task_results
    from lion_cli.store.evals import results as stored_results
    from lion_cli.student.launcher import JobFailed

    project = _maybe_project(directory, required=model is None)
    targets = _targets(project, model, iteration, all_its)
    chosen, modes, items = _load(benchmark, protocol, _split(tasks), all_tasks, mode, limit,
                                 _data_dir(project, data_dir))
    evaluate = _evaluator(benchmark, protocol, modes, items, max_new_tokens)
    n_items = sum(len(v) for v in items.values())
    out: list[dict[str, Any]] = []
    for target in targets:
        student = _student(project, target, benchmark if protocol == "lion" else f"{benchmark}-{protocol}",
                           prompt_format, batch_size, max_new_tokens or 64, format_needed=protocol != "harness")
        err(f"{benchmark}: {target.label} on {len(chosen)} tasks, {n_items} examples, protocol {protocol}"
            + (f", mode {'/'.join(modes)}" if protocol == "lion" else ""))
        t0 = time.monotonic()
        try:
            got = evaluate(student)
        except HarnessUnavailable as exc:
            fail(str(exc))
        except (JobFailed, RuntimeError) as exc:
            fail(f"{target.label}: evaluation failed: {exc}", code=1)
        secs = time.monotonic() - t0
        err(f"{benchmark}: {target.label} done in {secs:.1f} s")
        detail = {"limit": limit, "seconds": round(secs, 2), "prompt_format": student.prompt_format,
                  "protocol": protocol}
        if project is not None:
            store_task_results(project.store, target, got, detail)
        else:
            err("no lion project here: results are printed, not stored")
        out += result_dicts(target, got)
        if not as_json:
            print(format_table(benchmark, target.label, got))
            print()
    if as_json:
        print(json.dumps({"benchmark": benchmark, "protocol": protocol, "results": out}, indent=2))
    elif all_its and project is not None:
        print(learning_curve(stored_results(project.store, benchmark=benchmark), benchmark))


def run_vicuna(*, directory: Path | None, model: Path | None, iteration: int | None, all_its: bool,
               categories: list[str], limit: int | None, data_dir: Path | None, reference: str, setting: str,
               prompt_format: str | None, batch_size: int, max_new_tokens: int | None, as_json: bool) -> None:
    from dataclasses import asdict

    from lion_cli.eval.results import learning_curve
    from lion_cli.eval.vicuna_results import format_vicuna, store_vicuna
    from lion_cli.prompts_loader import load_role_prompts
    from lion_cli.store.evals import results as stored_results
    from lion_cli.student.launcher import JobFailed

    project = _maybe_project(directory, required=True)
    assert project is not None
    targets = _targets(project, model, iteration, all_its)
    questions, stored_ref = _vicuna_questions(project, data_dir, categories, limit, reference)
    plan = _judge_plan(project, setting)
    settings = project.settings
    prompts = load_role_prompts()
    ref_name = "gpt-3.5-turbo (stored answers)" if reference == "stored" else f"teacher {settings.teacher.model}"
    out = []
    for target in targets:
        student = _student(project, target, "vicuna", prompt_format, batch_size,
                           max_new_tokens or settings.student.generation.max_new_tokens)
        err(f"vicuna: {target.label} answers {len(questions)} questions")
        try:
            answers = student.replies([{"id": str(q.question_id), "instruction": q.text} for q in questions])
        except (JobFailed, RuntimeError) as exc:
            fail(f"{target.label}: generation failed: {exc}", code=1)
        student_answers = {q.question_id: answers[str(q.question_id)] for q in questions}
        outcome = _judge_vicuna(project, prompts, questions, student_answers, stored_ref, plan)
        store_vicuna(project.store, target, outcome, reference_name=ref_name, judge_model=settings.judge.model)
        out.append({"model": target.label, "iteration": target.iteration, "reference": ref_name,
                    "judge": settings.judge.model, "rows": [asdict(r) for r in outcome.ratios]})
        if not as_json:
            print(format_vicuna(target.label, outcome.ratios, ref_name, settings.judge.model))
            print()
    if as_json:
        print(json.dumps({"benchmark": "vicuna", "results": out}, indent=2))
    elif all_its:
        print(learning_curve(stored_results(project.store, benchmark="vicuna"), "vicuna"))


def _vicuna_questions(project: Project, data_dir: Path | None, categories: list[str], limit: int | None,
                      reference: str) -> tuple[list[Question], dict[int, str]]:
    """The questions asked (by category and --limit) and, for --reference stored, the stored answers."""
    from lion_cli.eval.data import DataError, load_vicuna_questions, load_vicuna_reference
    from lion_cli.eval.vicuna import questions_from_rows

    if reference not in ("stored", "teacher"):
        fail(f"--reference: expected stored or teacher, got {reference!r}")
    try:
        questions = questions_from_rows(load_vicuna_questions(_data_dir(project, data_dir)))
        stored_ref = load_vicuna_reference(_data_dir(project, data_dir)) if reference == "stored" else {}
    except DataError as exc:
        fail(str(exc))
    wanted = _split(categories)
    known = sorted({q.category for q in questions})
    if bad := [c for c in wanted if c not in known]:
        fail(f"--tasks: unknown vicuna categories {', '.join(bad)}; known: {', '.join(known)}")
    if limit is not None and limit < 1:
        fail(f"--limit: expected a positive number, got {limit}")
    return [q for q in questions if not wanted or q.category in wanted][:limit], stored_ref


def _judge_plan(project: Project, setting: str) -> JudgePlan:
    from lion_cli.eval.vicuna import JudgePlan

    chosen = {"1": (1,), "2": (2,), "both": (1, 2)}.get(setting)
    if chosen is None:
        fail(f"--setting: expected 1, 2 or both, got {setting!r}")
    vicuna = project.settings.vicuna
    return JudgePlan(chosen, vicuna.evidence_samples, vicuna.evidence_temperature,
                     project.settings.loop.referee_retries)


def _judge_vicuna(project: Project, prompts: RolePrompts, questions: list[Question], student_answers: dict[int, str],
                  stored_ref: dict[int, str], plan: JudgePlan) -> VicunaOutcome:
    """The reference answers (stored, or the teacher's) and the judge's verdicts, through the API engine."""
    import asyncio

    from lion_cli.cli.wiring import build_engine
    from lion_cli.eval.vicuna import JUDGE_TEMPLATES, evaluate_vicuna, teacher_references
    from lion_cli.llm.errors import ApiError, BudgetExceeded
    from lion_cli.prompts_loader import load_template

    settings = project.settings
    templates = {name: load_template(name) for name in JUDGE_TEMPLATES}
    err(f"judge: {settings.judge.model}, settings {'+'.join(map(str, plan.settings))}, "
        f"{plan.calls_per_question() * len(questions)} verdicts")

    async def go() -> VicunaOutcome:
        engine = build_engine(settings, project.store)
        try:  # teacher answers are cached in the store: a second target does not pay for them again
            refs = stored_ref or await teacher_references(engine, prompts, questions)
            return await evaluate_vicuna(engine, templates, questions, student_answers, refs, plan,
                                         on_done=_judge_progress)
        finally:
            await engine.aclose()

    try:
        return asyncio.run(go())
    except (ApiError, BudgetExceeded, RuntimeError) as exc:
        fail(f"vicuna: {exc}", code=1)


def _judge_progress(done: int, total: int) -> None:
    if done % 20 == 0 or done == total:
        err(f"judge: {done}/{total} verdicts")


def _bench_command(benchmark: str, doc: str, *, tasks_help: str, all_tasks_help: str, epilog: str) -> None:
    def command(
        directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        model: Path = _MODEL, iteration: int = _ITER, all_its: bool = _ALL,
        tasks: list[str] = typer.Option([], "--tasks", help=tasks_help, metavar="TASKS"),
        all_tasks: bool = typer.Option(False, "--all-tasks", help=all_tasks_help),
        protocol: str = typer.Option("paper", "--protocol", help="paper (the Lion paper's run) | agieval "
                                     "(AGIEval's zero-shot prompt and rule) | harness (lm-evaluation-harness's "
                                     "tasks) | lion (lion's own prompt and reading); see docs/evaluation.md",
                                     metavar="PROTOCOL"),
        mode: str = typer.Option(None, "--mode", help="--protocol lion only: generate | loglik | both "
                                 "(default generate).", metavar="MODE"),
        limit: int = _LIMIT, data_dir: Path = _DATA, prompt_format: str = _FORMAT, batch_size: int = _BATCH,
        max_new_tokens: int = typer.Option(None, "--max-new-tokens", help="Reply length (default: the "
                                           "protocol's: paper 1024, harness 256, agieval and lion 64).", metavar="N"),
        as_json: bool = _JSON,
    ) -> None:
        run_benchmark(benchmark, directory=chosen_project(directory, project_option), model=model, iteration=iteration,
                      all_its=all_its, tasks=tasks,
                      all_tasks=all_tasks, protocol=protocol, mode=mode, limit=limit, data_dir=data_dir,
                      prompt_format=prompt_format, batch_size=batch_size, max_new_tokens=max_new_tokens,
                      as_json=as_json)

    command.__doc__ = doc
    eval_app.command(benchmark, epilog=epilog)(command)


_bench_command("bbh", "BIG-Bench Hard: the paper's 23 multiple-choice tasks, zero-shot, under a protocol "
               "(default: the paper's).",
               tasks_help="BBH task names (as the files bbh/NAME.json), comma-separated or repeated, e.g. "
                          "boolean_expressions,navigate (default: the paper's 23).",
               all_tasks_help="All 27 BBH tasks: the paper's 23 and the 4 free-form ones, scored by exact match.",
               epilog=examples("lion eval bbh --iteration 0 --tasks boolean_expressions,navigate --limit 20",
                               "lion eval bbh --all-iterations --json",
                               "lion eval bbh --model student-out --prompt-format alpaca --all-tasks"))
_bench_command("agieval", "AGIEval: the 8 English multiple-choice tasks, zero-shot, under a protocol "
               "(default: the paper's).",
               tasks_help="AGIEval task names, comma-separated or repeated: aqua-rat, logiqa-en, lsat-ar, lsat-lr, "
                          "lsat-rc, sat-math, sat-en, sat-en-without-passage (default: all 8).",
               all_tasks_help="No effect for AGIEval: all 8 tasks are its default (the flag is bbh's).",
               epilog=examples("lion eval agieval --iteration 0 --tasks lsat-ar,sat-math",
                               "lion eval agieval --all-iterations --protocol agieval --json"))


@eval_app.command("vicuna", epilog=examples("lion eval vicuna --iteration 0",
                                             "lion eval vicuna --iteration 0 --tasks generic,knowledge --setting 1",
                                             "lion eval vicuna --all-iterations --reference teacher --json"))
def vicuna_cmd(
    directory: Path | None = PROJECT_ARGUMENT, project_option: Path | None = PROJECT_OPTION,
        model: Path = _MODEL, iteration: int = _ITER, all_its: bool = _ALL,
    tasks: list[str] = typer.Option([], "--tasks", help="Question categories, comma-separated or repeated, e.g. "
                                    "generic,knowledge,math (default: every category).", metavar="CATEGORIES"),
    limit: int = typer.Option(None, "--limit", help="Only the first N questions.", metavar="N"),
    data_dir: Path = _DATA,
    reference: str = typer.Option("stored", "--reference", help="stored (gpt-3.5-turbo's answers, as in the "
                                  "paper) | teacher (ask the project's teacher endpoint)", metavar="REFERENCE"),
    setting: str = typer.Option("both", "--setting", help="1 (one verdict per question, reference first) | 2 "
                                "(evidence first, both orders × [vicuna] evidence_samples) | both (the paper's "
                                "table)", metavar="SETTING"),
    prompt_format: str = _FORMAT, batch_size: int = _BATCH,
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", help="Answer length (default: the project's "
                                       "[student.generation] max_new_tokens).", metavar="N"),
    as_json: bool = _JSON,
) -> None:
    """Vicuna-80: student vs reference, scored by the [judge] endpoint in the paper's two settings."""
    run_vicuna(directory=chosen_project(directory, project_option), model=model, iteration=iteration, all_its=all_its,
               categories=tasks, limit=limit,
               data_dir=data_dir, reference=reference, setting=setting, prompt_format=prompt_format,
               batch_size=batch_size,
               max_new_tokens=max_new_tokens, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
