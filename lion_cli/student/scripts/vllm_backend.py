"""The optional vLLM path of the generation script (used only when `import vllm` works).

Same spec and same output fields as the HF path. vLLM batches continuously by itself, so it runs as
ONE process per node (launch with nproc 1; tensor parallelism is vLLM's own business). Per-row
seeds go through `SamplingParams(seed=...)`, which vLLM documents as per-request reproducible; the
texts are NOT identical to the HF path's (a different sampler), only reproducible within vLLM.

Not exercised by lion's tests, which run on CPU-only machines (the vLLM wheel is a CUDA build).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

from lion_cli.student.specs import GenSpec


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA build raising something else at import
        return False
    return True


def generate_rows(spec: GenSpec, todo: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RuntimeError("backend 'vllm' runs as one process (vLLM batches by itself); launch with nproc 1")
    if not vllm_available():
        raise RuntimeError("backend 'vllm' requested but `import vllm` fails; install vllm or use backend 'hf'")
    from vllm import LLM, SamplingParams

    from lion_cli.student.scripts.batch_decode import Completion, answer_row, row_seed
    from lion_cli.student.scripts.prompt import prompt_ids

    dtype = {"auto": "auto", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[spec.dtype]
    llm = LLM(model=spec.model_path, dtype=dtype, seed=spec.base_seed)
    tokenizer = llm.get_tokenizer()
    # Flush every few batches' worth so a killed run keeps most of its work, as the HF path does.
    chunk = spec.batch_size * 8
    for start in range(0, len(todo), chunk):
        rows = todo[start:start + chunk]
        prompts = [{"prompt_token_ids": prompt_ids(tokenizer, row, spec.prompt_format)} for row in rows]
        seeds = [row_seed(spec.base_seed, row) for row in rows]
        params = [SamplingParams(
            temperature=spec.temperature, top_p=spec.top_p, top_k=spec.top_k if spec.top_k > 0 else -1,
            max_tokens=spec.max_new_tokens, seed=seed,
        ) for seed in seeds]
        outputs = llm.generate(prompts, params)
        print(f"[generate] vllm: {len(rows)} rows", file=sys.stderr, flush=True)
        yield [answer_row(row, Completion(
            text=out.outputs[0].text, finish_reason="length" if out.outputs[0].finish_reason == "length" else "stop",
            prompt_tokens=len(prompt["prompt_token_ids"]), completion_tokens=len(out.outputs[0].token_ids),
        ), seed) for row, prompt, out, seed in zip(rows, prompts, outputs, seeds, strict=True)]
