"""The model-backed server (`lion serve --model PATH`, server/model_backend.py) over real HTTP.

The tiny model runs in process (so the test can read the backend's batch statistics); SmolLM2 runs
behind the real `lion serve --model` subprocess, as a user starts it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from lion_cli.server.app import build_server
from lion_cli.server.model_backend import HFBackend
from lion_cli.server.process import running_server
from lion_cli.server.runner import server_in_thread


async def _post_all(url: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send every body at once (one connection each) and return the JSON replies in order."""
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=len(bodies))) as client:
        replies = await asyncio.gather(*(client.post(f"{url}/chat/completions", json=b) for b in bodies))
    for reply in replies:
        assert reply.status_code == 200, reply.text
    return [r.json() for r in replies]


def _chat(content: Any, **settings: Any) -> dict[str, Any]:
    return {"model": "student", "messages": [{"role": "user", "content": content}], **settings}


TINY_BODIES = [
    _chat("How do I water basil?", temperature=0.0, max_tokens=7),
    _chat("Give three tips about sleep.", temperature=0.7, top_p=0.9, max_tokens=9, seed=11),
    _chat("What is 4 plus 5?", temperature=1.0, max_tokens=5, seed=12),
    _chat("Write a short note to Tom.", temperature=0.7, max_tokens=12, seed=13),
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
     "temperature": 0.9, "top_p": 0.8, "max_tokens": 8, "seed": 14},
    _chat("Explain why people bake bread.", temperature=0.0, max_tokens=10),
    _chat([{"type": "text", "text": "Checklist for travel"}], temperature=1.2, max_tokens=6, seed=15),
    _chat("Give three tips about sleep.", temperature=0.7, top_p=0.9, max_tokens=9, seed=99),
]


def test_concurrent_requests_are_batched_and_each_answer_is_its_own(tiny_model_dir: Path) -> None:
    backend = HFBackend(tiny_model_dir, max_batch=8, batch_window_ms=500, dtype="fp32", device="cpu")
    try:
        with server_in_thread(build_server(backend, model_name="tiny")) as url:
            batched = asyncio.run(_post_all(url, TINY_BODIES))
            sizes_after_batch = list(backend.stats.sizes)
            # The same requests one at a time: every answer must be the same as inside the batch.
            alone = [asyncio.run(_post_all(url, [body]))[0] for body in TINY_BODIES]
    finally:
        backend.close()

    assert sum(sizes_after_batch) == 8 and max(sizes_after_batch) >= 4, sizes_after_batch
    assert backend.stats.sizes[len(sizes_after_batch):] == [1] * 8
    for body, got, single in zip(TINY_BODIES, batched, alone, strict=True):
        choice = got["choices"][0]
        assert choice["message"] == single["choices"][0]["message"]
        assert got["usage"] == single["usage"]
        usage = got["usage"]
        assert usage["prompt_tokens"] == len(backend.prompt_ids(body["messages"]))
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        # A random model rarely emits EOS: most rows run to their own max_tokens.
        if choice["finish_reason"] == "length":
            assert usage["completion_tokens"] == body["max_tokens"]
        else:
            assert choice["finish_reason"] == "stop" and usage["completion_tokens"] <= body["max_tokens"]
    assert sum(g["choices"][0]["finish_reason"] == "length" for g in batched) >= 6
    # Same prompt, another seed: another sample (seeds are honoured, not shared across the batch).
    assert batched[1]["choices"][0]["message"]["content"] != batched[7]["choices"][0]["message"]["content"]


def test_seed_reproduces_and_no_seed_samples_afresh(tiny_model_dir: Path) -> None:
    backend = HFBackend(tiny_model_dir, max_batch=4, batch_window_ms=5, dtype="fp32", device="cpu")
    body = _chat("Give three tips about sleep.", temperature=1.0, max_tokens=10)
    try:
        with server_in_thread(build_server(backend)) as url:
            seeded = [asyncio.run(_post_all(url, [{**body, "seed": 3}]))[0] for _ in range(2)]
            unseeded = asyncio.run(_post_all(url, [body] * 4))
            greedy = asyncio.run(_post_all(url, [{**body, "temperature": 0}, {**body, "temperature": 0, "seed": 1}]))
    finally:
        backend.close()
    text = [r["choices"][0]["message"]["content"] for r in seeded + unseeded + greedy]
    assert text[0] == text[1]
    assert len(set(text[2:6])) >= 3
    assert text[6] == text[7]  # temperature 0 is greedy whatever the seed


def test_a_model_without_chat_template_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "no_template"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no chat template"):
        HFBackend(folder, device="cpu")


SMOL_BODIES = [
    _chat("What is the capital of France?", temperature=0, max_tokens=16),
    _chat("What is the capital of Japan?", temperature=0, max_tokens=16),
    _chat("What is the capital of Germany?", temperature=0, max_tokens=16),
    _chat("Write a haiku about rain.", temperature=0.8, top_p=0.9, max_tokens=6, seed=1),
    _chat("Give one tip for better sleep.", temperature=0.7, max_tokens=12, seed=2),
    _chat("Name a colour of the sky.", temperature=0.7, max_tokens=12, seed=3),
    _chat("What is 2 plus 2?", temperature=0.2, max_tokens=12, seed=4),
    _chat("Say hello in French.", temperature=0.7, top_p=0.95, max_tokens=12, seed=5),
]


@pytest.mark.slow
def test_lion_serve_model_smollm2_answers_8_concurrent_requests(smollm2_dir: Path) -> None:
    with running_server("model", model=str(smollm2_dir), max_batch=8, batch_window_ms=300) as url:
        replies = asyncio.run(_post_all(url, SMOL_BODIES))
    texts = [r["choices"][0]["message"]["content"] for r in replies]
    assert "Paris" in texts[0]
    assert "Tokyo" in texts[1] and "Berlin" in texts[2]  # each request got its own answer
    assert len(set(texts)) == 8 and all(t.strip() for t in texts)
    for body, reply in zip(SMOL_BODIES, replies, strict=True):
        usage, finish = reply["usage"], reply["choices"][0]["finish_reason"]
        assert usage["prompt_tokens"] > 20  # SmolLM2's template adds a system prompt
        assert 0 < usage["completion_tokens"] <= body["max_tokens"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert finish in ("stop", "length")
        if finish == "length":
            assert usage["completion_tokens"] == body["max_tokens"]
    assert replies[3]["choices"][0]["finish_reason"] == "length"  # a haiku does not fit in 6 tokens
    assert replies[0]["choices"][0]["finish_reason"] == "stop"
