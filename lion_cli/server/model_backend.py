"""A local HF causal LM behind the OpenAI-compatible server (`lion serve --model PATH`).

Implements the server's Backend protocol (app.Backend): `await complete(request, role)` returns
(text, finish_reason, prompt_tokens, completion_tokens). A prompt becomes token ids the way the
student's own scripts do it (scripts/prompt.py, the "chat_raw" layout: the model's chat template).

Throughput comes from batching: requests arriving within `batch_window_ms` of the first one (up to
`max_batch`) are decoded together in ONE forward pass per step. Each request keeps its own settings
inside the batch (temperature, top_p, top_k, max_tokens, seed; see batch_decode.py), so no grouping
is needed and a request's answer does not depend on its batch-mates: with a `seed` it is reproducible,
at temperature 0 it is greedy. Decoding runs on a single worker thread so the asyncio server keeps
accepting connections meanwhile; requests that arrive during a batch form the next one.

The server (choices.py) asks once per choice of `n`, marking choice i `x_lion_choice: i`: with a seed, choice
i > 0 samples with a seed derived from it. `stop` strings and `response_format` (generate, validate against
the schema, retry up to `json_tries` times) are applied by the server around this backend; logprobs and tools
are refused (params.py). A stream is the finished answer sent in pieces (render.py).
torch / transformers are imported when the backend is constructed, never at module import.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lion_cli.server.choices import JSON_TRIES
from lion_cli.server.params import content_text
from lion_cli.student.scripts import prompt

DEFAULT_MAX_TOKENS = 512
_CHOICE_STRIDE = 7919  # choice i of a seeded request samples with seed + i * stride


@dataclass
class _Pending:
    prompt: list[int]
    seed: int
    sampling: Any  # scripts.batch_decode.Sampling
    future: asyncio.Future[Any]


@dataclass
class BatchStats:
    batches: int = 0
    requests: int = 0
    sizes: list[int] = field(default_factory=list)


class HFBackend:
    def __init__(self, model_path: str | Path, max_batch: int = 16, batch_window_ms: float = 20.0, *,
                 dtype: str = "auto", device: str | None = None,
                 default_max_tokens: int = DEFAULT_MAX_TOKENS, json_tries: int = JSON_TRIES) -> None:
        from lion_cli.student.scripts.batch_decode import Sampling, generate_batch, load_model

        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        t0 = time.perf_counter()
        self.model, self.tokenizer = load_model(str(model_path), dtype, device)
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"{model_path}: the tokenizer has no chat template; a chat server needs one")
        print(f"lion serve: loaded {model_path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        self._sampling_cls = Sampling
        self._generate_batch = generate_batch
        self.model_name = Path(model_path).name
        self.max_batch = max_batch
        self.window_s = batch_window_ms / 1000.0
        self.default_max_tokens = default_max_tokens
        self.json_tries = json_tries  # read by choices.py for response_format
        self.stats = BatchStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lion-hf-decode")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None

    # -- the Backend protocol --------------------------------------------------------------------------
    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        prompt = self.prompt_ids(request["messages"])
        max_tokens = request.get("max_tokens") or request.get("max_completion_tokens") or self.default_max_tokens
        temperature = request.get("temperature")
        top_p = request.get("top_p")
        sampling = self._sampling_cls(
            max_new_tokens=int(max_tokens),
            temperature=float(1.0 if temperature is None else temperature),  # the OpenAI default
            top_p=float(1.0 if top_p is None else top_p),
            top_k=int(request.get("top_k") or 0),  # vLLM's extension; OpenAI has none
        )
        seed = request.get("seed")
        # Without a seed a sampled answer is not meant to be reproducible (as with the real API).
        choice = int(request.get("x_lion_choice") or 0)
        seed = int(seed) + choice * _CHOICE_STRIDE if seed is not None else secrets.randbits(63)
        queue = self._ensure_worker()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queue.put_nowait(_Pending(prompt, seed, sampling, future))
        done = await future
        return done.text, done.finish_reason, done.prompt_tokens, done.completion_tokens

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        """The request's messages (OpenAI's forms of content flattened to text) as prompt token ids."""
        clean = [{"role": str(m.get("role", "user")), "content": content_text(m.get("content"), "message")}
                 for m in messages]
        return prompt.prompt_ids(self.tokenizer, {"messages": clean}, "chat_raw")

    def count_tokens(self, text: str) -> int:
        """Tokens in an answer's text (what is left after a stop string cut it)."""
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- batching ----------------------------------------------------------------------------------
    def _ensure_worker(self) -> asyncio.Queue[_Pending]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._batch_loop(self._queue))
        return self._queue

    async def _collect(self, queue: asyncio.Queue[_Pending]) -> list[_Pending]:
        """The first waiting request, plus whatever else arrives within the window (up to max_batch)."""
        loop = asyncio.get_running_loop()
        batch = [await queue.get()]
        deadline = loop.time() + self.window_s
        while len(batch) < self.max_batch:
            if not queue.empty():  # already waiting (e.g. arrived during the previous batch): take it now
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return [p for p in batch if not p.future.done()]  # a client that went away is skipped

    async def _batch_loop(self, queue: asyncio.Queue[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect(queue)
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(
                    self._executor, self._generate_batch, self.model, self.tokenizer,
                    [p.prompt for p in batch], [p.seed for p in batch], [p.sampling for p in batch])
            except Exception as exc:  # the server turns it into a 500 for each request of the batch
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.sizes.append(len(batch))
            for p, result in zip(batch, results, strict=True):
                if not p.future.done():
                    p.future.set_result(result)
