"""Secret scans: the API key, whole or any 8 characters of it, never reaches the database file, the
logs, stdout/stderr or an exception, when a server echoes it back in a long error body (across the
500-character cut of error text), in JSON, in a retried 5xx, or inside a 200 answer; and a key
pasted into api_key_env is never printed or stored. Redaction comes before any shortening."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest

from lion_cli.core.redact import REDACTED, redact, redact_and_cut
from lion_cli.llm.engine import ApiError, LLMEngine, MissingApiKey
from lion_cli.llm.wire import MAX_MESSAGE_CHARS
from lion_cli.store.api_log import StoreCache, StoreCallLog, StoreSpend
from lion_cli.store.db import open_store
from tests.llm_support import loopback, spec, stats, teacher_messages

# No provider prefix: found because it is the key, not because it looks like one.
KEY = "Zq7Lm2Xv9Rt4Wz8Pn1Ks6Bd3Hy5Jc0TfGu"
KEY_ENV = "LION_SECRET_SCAN_KEY"
BEARER = len("Bearer ")


def leaks(blob: str, secret: str = KEY, run: int = 8) -> list[str]:
    """The secret, or any `run`-character piece of it, found in blob."""
    pieces = {secret[i:i + run] for i in range(len(secret) - run + 1)}
    return sorted(p for p in pieces if p in blob)


def exception_text(exc: BaseException | None) -> str:
    """str and repr of an exception and of everything chained to it (a traceback shows them)."""
    parts: list[str] = []
    while exc is not None:
        parts += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return " ".join(parts)


def files_under(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()}


# -- the redaction itself ------------------------------------------------------------------------------

def test_redaction_comes_before_the_cut_wherever_the_key_sits() -> None:
    """Every position of the key around the cut, every cut length: not even 4 characters of it survive
    (a cut first would leave a stub too short to be recognised as the key's). Cutting first and then
    replacing the whole key (the old order) leaves the key's first part behind."""
    leaked_when_cut_first = 0
    for limit in (40, 120, MAX_MESSAGE_CHARS):
        for offset in range(limit - len(KEY) - 4, limit + 4):
            text = "x" * offset + f"Bearer {KEY} trailing text"
            assert not leaks(redact_and_cut(text, [KEY], limit), run=4), (limit, offset)
            cut_first = text[:limit].replace(KEY, REDACTED)
            leaked_when_cut_first += bool(leaks(cut_first))
    assert leaked_when_cut_first > 0


@pytest.mark.parametrize("text", [
    f"invalid key {KEY[:12]}", f"key ...{KEY[-9:]} rejected", f"key {KEY[:6]}****{KEY[-10:]}",
    f'{{"authorization": "Bearer {KEY}"}}', f"{KEY}{KEY}", f"prefix{KEY[3:20]}suffix",
])
def test_partial_and_repeated_occurrences_are_redacted(text: str) -> None:
    assert not leaks(redact(text, [KEY]))


@pytest.mark.parametrize(("text", "gone"), [
    ("Authorization: Bearer abcdefghijklmnopqrstuvwx", "abcdefghijklmnop"),
    ("your key sk-proj-AbCdEf0123456789xyz is invalid", "AbCdEf0123456789"),
    ('{"api_key": "q1w2e3r4t5y6u7i8"}', "q1w2e3r4t5y6u7i8"),
    ("GET https://api.test/v1/models?key=AIzaSyA1234567890abcdef&x=1", "AIzaSyA1234567890"),
    ("x-api-key: 0123456789abcdef0123", "0123456789abcdef"),
])
def test_credential_shapes_are_redacted_without_knowing_the_key(text: str, gone: str) -> None:
    out = redact(text)
    assert gone not in out and REDACTED in out


def test_text_without_secrets_is_unchanged() -> None:
    text = "HTTP 400: 'temperature' must be a number between 0 and 2, got 9.0 (see sk-learn docs)"
    assert redact(text, [KEY, "abc"]) == text  # a 3-character stand-in key is not searched for


def test_random_texts_never_keep_a_piece_of_the_key() -> None:
    rng = random.Random(3)
    for _ in range(500):
        cut_at = rng.randint(0, len(KEY))
        piece = KEY[cut_at:cut_at + rng.randint(8, len(KEY))]
        noise = "".join(rng.choice("ab c\n{}\":") for _ in range(rng.randint(0, 600)))
        at = rng.randint(0, len(noise))
        text = noise[:at] + piece + noise[at:]
        assert not leaks(redact_and_cut(text, [KEY], rng.randint(1, 700)))


# -- the engine against lion's own server, configured to echo the Authorization header -------------------

ECHOES = {
    # the key straddles the 500-character cut: 12 of its characters before it
    "401 json, key across the cut": dict(echo_status=401, echo_pad=MAX_MESSAGE_CHARS - BEARER - 12),
    "401 text, key across the cut": dict(echo_status=401, echo_json=False, echo_pad=MAX_MESSAGE_CHARS - BEARER - 20),
    "400 json, key at the start": dict(echo_status=400, echo_pad=0),
    "400 json, long body, key far past the cut": dict(echo_status=400, echo_pad=5000),
    "500 retried, then given up": dict(echo_status=500, echo_pad=MAX_MESSAGE_CHARS - BEARER - 8),
    "200, the key inside the answer": dict(echo_status=200, echo_pad=10),
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
async def test_an_echoed_key_reaches_no_db_log_output_or_exception(
        echo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    answers: list[str] = []
    with loopback(rate_echo=1.0, **echo) as url, open_store(tmp_path / "lion.db") as store:
        endpoint = spec(url, api_key_env=KEY_ENV, max_retries=2)
        async with LLMEngine({"teacher": endpoint}, cache=StoreCache(store), call_log=StoreCallLog(store),
                             spend=StoreSpend(store), backoff_base_s=0.01) as eng:
            try:
                answers.append((await eng.chat("teacher", teacher_messages("Echo my key."))).text)
            except ApiError as exc:
                errors.append(exception_text(exc))
        received = stats(url)["received"]
        rows = store.query("SELECT error FROM api_calls")
    assert received == (3 if echo["echo_status"] == 500 else 1)  # the request really went out (and retried)
    assert (answers if echo["echo_status"] == 200 else errors), "the call neither failed nor answered"
    assert "Bearer [reda" in (answers + errors)[0] or echo["echo_pad"] >= MAX_MESSAGE_CHARS  # the echo arrived
    if errors:
        assert rows[0]["error"] and str(echo["echo_status"]) in rows[0]["error"]
    out, err = capfd.readouterr()
    blobs = {"logs": caplog.text, "stdout": out, "stderr": err, "exceptions": " ".join(errors),
             "answers": " ".join(answers), **files_under(tmp_path)}
    assert "lion.db" in blobs and "received" not in blobs
    for name, blob in blobs.items():
        assert not leaks(blob), f"the key leaked into {name}: {leaks(blob)}"


async def test_a_key_pasted_into_api_key_env_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """api_key_env holds the key itself: the error says so without repeating it, and nothing is sent."""
    with loopback() as url:
        async with LLMEngine({"teacher": spec(url, api_key_env=KEY)}) as eng:
            with pytest.raises(MissingApiKey) as info:
                await eng.chat("teacher", teacher_messages("x"))
        assert stats(url)["received"] == 0
    message = exception_text(info.value)
    assert "api_key_env must name an environment variable (it looks like a key itself)" in message
    assert not leaks(message)


async def test_a_key_in_the_base_url_is_not_stored_or_shown(tmp_path: Path) -> None:
    """user:key@host in base_url: the error and the api_calls row show the URL without it."""
    secret_url_key = "Wd4Yh8Nc2Mv6Qs0Rp3Tb7"
    with loopback() as url, open_store(tmp_path / "lion.db") as store:
        port_url = url.replace("http://", f"http://user:{secret_url_key}@")
        endpoint = spec(port_url, temperature=9.0, max_retries=0)  # refused by the server: an error row
        async with LLMEngine({"teacher": endpoint}, call_log=StoreCallLog(store)) as eng:
            with pytest.raises(ApiError) as info:
                await eng.chat("teacher", teacher_messages("x"))
    blobs = {"exception": exception_text(info.value), **files_under(tmp_path)}
    for name, blob in blobs.items():
        assert not leaks(blob, secret_url_key), f"the URL's key leaked into {name}"


# -- the whole CLI: `lion run` against an echoing server, then every file of the project ---------------

def test_lion_run_keeps_an_echoed_key_out_of_output_and_project(tmp_path: Path, tiny_model_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.loop_helpers import lion, make_project

    monkeypatch.setenv(KEY_ENV, KEY)
    keyed = [f"{role}.api_key_env={KEY_ENV}" for role in ("teacher", "referee", "generator")]
    with loopback(rate_echo=1.0, echo_status=401, echo_pad=MAX_MESSAGE_CHARS - BEARER - 12) as url:
        project = make_project(tmp_path, url, tiny_model_dir, extra=keyed)
        result = lion("run", str(project), timeout=300)
        received = stats(url)["received"]
    assert received >= 1 and result.returncode != 0, (received, result.stdout, result.stderr)
    assert "401" in result.stderr and "Bearer [reda" in result.stderr  # the echo was shown, redacted
    blobs = {"stdout": result.stdout, "stderr": result.stderr, **files_under(project)}
    assert "lion.db" in blobs
    for name, blob in blobs.items():
        assert not leaks(blob), f"the key leaked into {name}: {leaks(blob)}"


def test_a_key_pasted_into_lion_toml_is_never_printed_or_stored(tmp_path: Path) -> None:
    """`lion init --set teacher.api_key_env=<key>`, and the same key written into lion.toml by hand:
    init, run and status refuse without repeating it, and no file of the project holds it."""
    from tests.loop_helpers import lion

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Write a haiku about rain.\nName three prime numbers.\n")
    pasted = lion("init", str(tmp_path / "pasted"), "--seed", str(seeds), "--set", f"teacher.api_key_env={KEY}")
    assert lion("init", str(tmp_path / "proj"), "--seed", str(seeds)).returncode == 0
    toml = tmp_path / "proj" / "lion.toml"
    toml.write_text(toml.read_text().replace('api_key_env = "OPENAI_API_KEY"', f'api_key_env = "{KEY}"'))
    assert KEY in toml.read_text()  # the hand edit took
    runs = [lion("run", str(tmp_path / "proj")), lion("status", str(tmp_path / "proj"))]
    assert pasted.returncode != 0 and all(r.returncode != 0 for r in runs)
    assert all("api_key_env" in r.stderr for r in [pasted, *runs])
    blobs = {f"{i}:{stream}": getattr(r, stream)
             for i, r in enumerate([pasted, *runs]) for stream in ("stdout", "stderr")}
    blobs |= {name: blob for name, blob in files_under(tmp_path).items() if name != "proj/lion.toml"}
    for name, blob in blobs.items():
        assert not leaks(blob), f"the key leaked into {name}: {leaks(blob)}"
