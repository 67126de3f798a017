"""The `lion` command. Command modules import nothing heavy at module level, so `lion --help`
starts fast; torch, transformers and textual are imported inside the commands that use them."""

from __future__ import annotations

import typer

from lion_cli import __version__
from lion_cli.cli.help_examples import examples
from lion_cli.cli.project_arg import PROJECT_RULE

# One list for `lion --help` and the README: what a script can read from lion's exit status.
EXIT_CODES_EPILOG = (
    "Exit codes: 0 done; 1 an error; 2 bad input or a project `lion check` refuses (nothing sent, nothing "
    "written); 3 paused at the budget; 4 another run holds the project; 5 a training or generation job failed; "
    "130 interrupted (Ctrl-C or SIGTERM).")

app = typer.Typer(
    name="lion",
    help="Adversarial distillation of an API-only LLM into a small open-weight student (Lion, EMNLP 2023).",
    epilog=examples("lion init myproj --seed seed_tasks.jsonl", "lion check myproj", "lion run -C myproj",
                    before=f"{PROJECT_RULE}\n\n{EXIT_CODES_EPILOG}"),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Typer's --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    pretty_exceptions_enable=False,  # tracebacks must never print locals (an API key could be one)
    # Plain help: Rich's help renderer alone costs ~0.25 s of imports, half the 0.5 s start-up budget.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"lion {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """lion: teacher answers, student imitates, referee finds what is hard, generator writes more."""


def _register() -> None:
    # Each module adds its commands to `app`; the order here is the order in `lion --help`.
    from lion_cli.cli import check, db, demo, init, plan, rerun, retry_failed, run, serve, status, student, tui
    from lion_cli.cli import eval as eval_cmds
    from lion_cli.cli import export as export_cmds

    for module in (init, check, plan, run, status, retry_failed, rerun, demo, tui, serve, student, db, eval_cmds,
                   export_cmds):
        module.register(app)


_register()


def main() -> None:
    app()
