"""The local OpenAI-compatible server over real HTTP: scripted roles, limits, faults, stats, `lion serve`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from lion_cli.server.scripted import ScriptedBackend, scripted_teacher_answer
from tests.llm_support import TEACHER_PROMPT, loopback, stats

CLIENT = httpx.Client(timeout=10)  # one client: building one per request costs ~0.1 s (TLS context)
SCORE = re.compile(r"^Assistant ([12]): (\d+(?:\.\d)?)$", re.M)


def post(url: str, content: str, *, role: str | None = None, sample: int = 0, client: httpx.Client | None = None,
         **body: Any) -> httpx.Response:
    headers = {"X-Lion-Sample": str(sample)}
    if role:
        headers["X-Lion-Role"] = role
    payload = {"model": "m", "messages": [{"role": "user", "content": content}], **body}
    return (client or CLIENT).post(f"{url}/chat/completions", json=payload, headers=headers, timeout=10)


def referee_prompt(instruction: str, a1: str, a2: str) -> str:
    return (f"Compare.\n\n[Instruction]\n{instruction}\n[End of instruction]\n\n[Assistant 1]\n{a1}\n"
            f"[End of Assistant 1]\n\n[Assistant 2]\n{a2}\n[End of Assistant 2]\n\nScore both.")


def scores(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in SCORE.findall(text)}


def test_openai_schema_and_teacher_answer() -> None:
    with loopback() as url:
        r = post(url, TEACHER_PROMPT.format("Describe a cat."), role="teacher", max_tokens=500)
        data = r.json()
        models = httpx.get(f"{url}/models").json()
        health = httpx.get(url.removesuffix("/v1") + "/health").json()
        missing = httpx.get(url.removesuffix("/v1") + "/nothing")
    assert r.status_code == 200 and data["object"] == "chat.completion" and data["model"] == "m"
    [choice] = data["choices"]
    assert choice["message"] == {"role": "assistant", "content": scripted_teacher_answer("Describe a cat.")}
    assert choice["finish_reason"] == "stop" and choice["index"] == 0
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    assert models["data"][0]["id"] == "scripted" and health == {"status": "ok"} and missing.status_code == 404


def test_teacher_answers_vary_and_honour_max_tokens() -> None:
    lengths = {len(scripted_teacher_answer(f"task {i}").split()) for i in range(60)}
    assert min(lengths) >= 20 and max(lengths) <= 120 and len(lengths) > 20
    with loopback() as url:
        with_input = post(url, "### Instruction:\nSort these.\n\n### Input:\n3 1 2\n\n### Response:", max_tokens=500)
        cut = post(url, TEACHER_PROMPT.format("Describe a cat."), max_tokens=7).json()["choices"][0]
    # No role header: the role is guessed from the Alpaca layout.
    assert with_input.json()["choices"][0]["message"]["content"] == scripted_teacher_answer("Sort these.")
    assert cut["finish_reason"] == "length" and len(cut["message"]["content"].split()) == 7


def test_referee_scores_teacher_high_and_students_spread() -> None:
    instr = "Explain photosynthesis."
    teacher = scripted_teacher_answer(instr)
    backend = ScriptedBackend(bad_reply_rate=0.0, position_bias=0.5)
    seen: list[float] = []
    with loopback(backend) as url, httpx.Client() as client:
        for i in range(40):
            student = f"Plants make food from light, attempt {i}."
            text = post(url, referee_prompt(instr, teacher, student), role="referee", client=client).json()
            reply = text["choices"][0]["message"]["content"]
            s = scores(reply)
            assert s["1"] == 9.5 and 2 <= s["2"] <= 9, reply  # teacher 9 + position bias 0.5
            assert s["2"].is_integer() and reply.endswith(f"Assistant 2: {s['2']:.0f}"), reply
            seen.append(s["2"])
            swapped = post(url, referee_prompt(instr, student, teacher), role="referee", client=client).json()
            s2 = scores(swapped["choices"][0]["message"]["content"])
            assert s2["2"] == 9 and s2["1"] == min(10, s["2"] + 0.5)  # the same answer, the same score
    assert len(set(seen)) >= 5 and any(x >= 8 for x in seen) and any(x <= 6 for x in seen)


def test_referee_bad_replies_depend_on_sample() -> None:
    prompt = referee_prompt("Q?", "answer one", "answer two")
    with loopback(ScriptedBackend(bad_reply_rate=0.5)) as url:
        replies = [post(url, prompt, role="referee", sample=s).json()["choices"][0]["message"]["content"]
                   for s in range(30)]
        again = [post(url, prompt, role="referee", sample=s).json()["choices"][0]["message"]["content"]
                 for s in range(30)]
    unreadable = [r for r in replies if len(scores(r)) != 2]
    assert replies == again and 5 <= len(unreadable) <= 25


def test_generator_mix() -> None:
    seed = "Write a haiku about the first snow of winter."
    with loopback() as url, httpx.Client() as client:
        outs = [post(url, f"Write another.\n\n[Seed instruction]\n{seed}\n[End of seed instruction]", role="generator",
                     sample=s, seed=1000 + s, temperature=1.0, client=client).json()["choices"][0]["message"]["content"]
                for s in range(200)]
        prompt = f"Write another.\n\n[Seed instruction]\n{seed}\n[End of seed instruction]"
        repeat = post(url, prompt, role="generator", sample=3, seed=1003, client=client).json()
        other = post(url, "Another kind. " + prompt, role="generator", sample=3, seed=1003, client=client).json()
    assert repeat["choices"][0]["message"]["content"] == outs[3]
    assert other["choices"][0]["message"]["content"] != outs[3]  # a different prompt, a different reply
    copies = [o for o in outs if o.startswith(seed.split()[0]) and seed.rstrip(".") in o]
    short = [o for o in outs if len(o.split()) <= 3]
    punct = [o for o in outs if not o[0].isalnum()]
    novel = [o for o in outs if o not in copies + short + punct]
    assert all(len(o.split()) >= 6 for o in novel) and len(novel) >= 120 and len(set(novel)) >= 110
    assert len(copies) >= 10 and len(short) >= 8 and len(punct) >= 8


def test_rate_limit_429_and_headers() -> None:
    with loopback(rpm=2, tpm=100_000, window_s=30.0) as url, httpx.Client() as client:
        ok = [post(url, f"hello {i}", client=client) for i in range(2)]
        limited = post(url, "hello 2", client=client)
    assert [r.status_code for r in ok] == [200, 200] and limited.status_code == 429
    assert ok[0].headers["x-ratelimit-limit-requests"] == "2" and ok[0].headers["x-ratelimit-remaining-requests"] == "1"
    assert ok[1].headers["x-ratelimit-remaining-requests"] == "0" and "x-ratelimit-reset-tokens" in ok[1].headers
    assert 29 <= int(limited.headers["retry-after"]) <= 30 and int(limited.headers["retry-after-ms"]) > 29_000
    assert "Rate limit reached for requests" in limited.json()["error"]["message"]


def test_tpm_limit() -> None:
    with loopback(tpm=120, window_s=30.0) as url:
        codes = [post(url, TEACHER_PROMPT.format(f"t{i}"), max_tokens=40).status_code for i in range(4)]
        s = stats(url)
    assert codes[0] == 200 and 429 in codes and s["rate_limited"] == codes.count(429)


def test_faults_over_http_and_stats() -> None:
    with loopback(rate_drop=0.2, rate_malformed=0.2, rate_empty_choices=0.2, rate_500=0.1, fault_seed=5) as url:
        outcomes = []
        for i in range(40):
            try:
                r = post(url, f"ping {i}")
            except httpx.RemoteProtocolError:
                outcomes.append("drop")
                continue
            if r.status_code == 500:
                outcomes.append("500")
            elif not r.text.rstrip().endswith("}"):
                outcomes.append("malformed")
            elif r.json()["choices"] == []:
                outcomes.append("empty_choices")
            else:
                outcomes.append("ok")
        s = stats(url)
    assert {k: outcomes.count(k) for k in s["faults_by_kind"]} == s["faults_by_kind"]
    assert s["faults"] == sum(s["faults_by_kind"].values()) == 40 - outcomes.count("ok")
    assert s["requests"] == s["received"] == 40
    assert set(outcomes) == {"drop", "malformed", "empty_choices", "500", "ok"}
    assert s["served"] == outcomes.count("ok") and s["received"] == 40


def test_same_seed_same_fault_sequence() -> None:
    def run() -> list[int]:
        with loopback(rate_500=0.3, rate_503=0.2, fault_seed=9) as url, httpx.Client() as client:
            return [post(url, f"q{i % 7}", client=client).status_code for i in range(30)]
    assert run() == run()


def test_duplicates_and_auth() -> None:
    with loopback(api_key="sk-server-side") as url, httpx.Client() as client:
        denied = post(url, "hi", client=client)
        hdr = {"Authorization": "Bearer sk-server-side"}
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        for sample in ("0", "0", "1"):
            assert client.post(f"{url}/chat/completions", json=body,
                               headers={**hdr, "X-Lion-Sample": sample}).status_code == 200
        bad = client.post(f"{url}/chat/completions", content=b"{not json", headers=hdr)
        s = stats(url)
    assert denied.status_code == 401 and s["unauthorized"] == 1
    assert bad.status_code == 400 and "JSON object" in bad.json()["error"]["message"]
    assert set(bad.json()["error"]) == {"message", "type", "param", "code"}  # OpenAI's error shape
    assert s["served"] == 3 and s["duplicates"] == 1 and sorted(s["by_hash"].values()) == [1, 2]


def test_lion_serve_subprocess_and_bad_flags() -> None:
    from lion_cli.server.process import running_server

    with running_server(backend="scripted", latency=(0.0, 0.01), rpm=100, api_key="sk-sub-0001") as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
        r = httpx.post(f"{url}/chat/completions", headers={"Authorization": "Bearer sk-sub-0001"},
                       json={"model": "m", "messages": [{"role": "user", "content": TEACHER_PROMPT.format("Hi")}]})
        assert r.json()["choices"][0]["message"]["content"] == scripted_teacher_answer("Hi")
        assert r.headers["x-ratelimit-limit-requests"] == "100"
        assert httpx.post(f"{url}/chat/completions", json={"messages": []}).status_code == 401
    bad = subprocess.run([sys.executable, "-m", "lion_cli", "serve", "--rate-500", "0.8", "--rate-drop", "0.5"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "sum to ≤ 1" in bad.stderr and bad.stdout == ""


@pytest.mark.parametrize("flags", [["--scripted", "--smollm2"], ["--student-min", "8", "--student-max", "3"],
                                   ["--model", "/nonexistent/model-folder"]])
def test_lion_serve_refuses_contradictions(flags: list[str]) -> None:
    bad = subprocess.run([sys.executable, "-m", "lion_cli", "serve", *flags], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_lion_serve_model_backend(tiny_model_dir: Path) -> None:
    """`lion serve --model PATH` with a real (tiny) HF model: the URL is the first stdout line, and the
    engine gets answers with usage and a finish_reason; at temperature 0 the same request repeats."""
    import asyncio

    from lion_cli.llm.engine import LLMEngine
    from tests.llm_support import spec, teacher_messages

    proc = subprocess.Popen([sys.executable, "-m", "lion_cli", "serve", "--model", str(tiny_model_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url), url

        async def ask() -> list[Any]:
            async with LLMEngine({"teacher": spec(url, temperature=0.0, max_tokens=6, timeout_s=60.0)}) as eng:
                first = await eng.chat("teacher", teacher_messages("Say hello."))
                again = await eng.chat("teacher", teacher_messages("Say hello."), sample_index=1)
            return [first, again]

        first, again = asyncio.run(ask())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert first.text == again.text and not again.cached
    assert first.finish_reason in ("stop", "length") and 1 <= first.completion_tokens <= 6
    assert first.prompt_tokens > 5 and "loaded" in err
