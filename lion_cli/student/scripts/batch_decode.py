"""Batched decoding with per-row reproducible sampling (standalone: imports only torch/transformers).

Why not `generate(do_sample=True)`: HF samples every row from one global RNG, so a row's answer
depends on which rows share its batch, in what order, and on how many processes split the work.
Here each row draws its token by inverse-CDF sampling from softmax(logits / T) with a uniform that
is a hash of (the row's seed, the step): a counter-based generator with no state to share (see
row_uniforms), so the answer depends only on (model, prompt, settings, seed). A logits processor
leaves only the drawn token finite and decoding stays greedy; temperature 0 means plain greedy.
Top-k and top-p are applied per row before the draw, in HF's order (temperature, then top-k, then
top-p), on a partial sort (top-p rarely needs the whole vocabulary).

Used by the generation entry script (`generate.py`) and by `lion serve`'s model backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
)

from lion_cli.student.specs import GenSpec


@dataclass(frozen=True, slots=True)
class Sampling:
    """One row's decoding settings; top-p and top-k are off unless given (GenSpec says what off is)."""

    max_new_tokens: int
    temperature: float  # 0 = greedy
    top_p: float = GenSpec.top_p
    top_k: int = GenSpec.top_k


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (a stop token was produced) | "length" (hit max_new_tokens)
    prompt_tokens: int
    completion_tokens: int  # generated tokens, the stop token included


def derive_seed(base_seed: int, row_id: str) -> int:
    """A row's seed from the run's base seed and the row's id: stable across processes and runs."""
    digest = hashlib.sha256(f"{base_seed}\x1f{row_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def row_seed(base_seed: int, row: Mapping[str, Any]) -> int:
    """An input row's own seed, else the one derived from its id."""
    return int(row["seed"]) if "seed" in row else derive_seed(base_seed, str(row["id"]))


def answer_row(row: Mapping[str, Any], done: Completion, seed: int) -> dict[str, Any]:
    """The generation script's output row for an input row (GenSpec documents the fields)."""
    return {"id": row["id"], "text": done.text, "finish_reason": done.finish_reason,
            "prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens, "seed": seed}


# splitmix64 constants as signed int64 (torch has no uint64 arithmetic); products wrap mod 2**64.
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)
_MIX1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_MIX2 = 0x94D049BB133111EB - (1 << 64)
# Top-p first looks for the nucleus among this many most likely tokens (a partial sort); only when
# it is wider than that (a very flat distribution) does it sort the whole vocabulary.
_NUCLEUS_PROBE = 256


def _int64(value: int) -> int:
    """A Python int wrapped to the signed 64-bit range (what int64 tensor arithmetic does)."""
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)


def _srl(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's >> is arithmetic: it would copy the sign bit)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def _mix64(x: torch.Tensor) -> torch.Tensor:
    x = (x ^ _srl(x, 30)) * _MIX1
    x = (x ^ _srl(x, 27)) * _MIX2
    return x ^ _srl(x, 31)


def row_uniforms(seeds: torch.Tensor, step: int) -> torch.Tensor:
    """One uniform in (0, 1) per row for this step, a pure function of (row seed, step): a counter-
    based generator with no state, so a row's draws cannot depend on its batch-mates. [R] float64."""
    bits = _mix64(_mix64(seeds.to(torch.int64) + _int64((step + 1) * _GOLDEN)))
    return (_srl(bits, 11).double() + 0.5) / float(1 << 53)


class SeededRowSampler(LogitsProcessor):
    """Turns greedy decoding into per-row seeded sampling (see the module docstring).

    Rows with temperature 0 are left untouched (greedy). For a sampling row the returned scores are
    -inf except at the token it drew, so the greedy step that follows picks exactly that token.
    Rows that share settings are processed together (vectorised); every per-row quantity (softmax,
    partial sort, cumulative sums, the uniform) is computed along the row only, so it is the same in
    a batch of one or of a hundred."""

    def __init__(self, seeds: list[int], samplings: list[Sampling], device: torch.device) -> None:
        self.seeds = torch.tensor([_int64(s) for s in seeds], dtype=torch.int64, device=device)
        self.step = 0  # rows of one generate() call start together, so one counter serves all
        groups: dict[tuple[float, float, int], list[int]] = {}
        for row, s in enumerate(samplings):
            if s.temperature > 0:
                groups.setdefault((s.temperature, s.top_p, s.top_k), []).append(row)
        self.groups = [(key, torch.tensor(rows, device=device)) for key, rows in groups.items()]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = scores.float().clone()
        for (temperature, top_p, top_k), rows in self.groups:
            logits = out[rows] / temperature
            cand_logits, cand_ids = _candidates(logits, top_p, top_k)
            # Inverse-CDF draw: the first candidate whose cumulative probability reaches u. Tokens
            # excluded by top-k/top-p have probability 0 and can never be that first one.
            cdf = torch.softmax(cand_logits.double(), dim=-1).cumsum(-1)
            target = row_uniforms(self.seeds[rows], self.step)[:, None] * cdf[:, -1:]
            pos = torch.searchsorted(cdf, target).clamp_(max=cdf.shape[-1] - 1)
            chosen = cand_ids.gather(-1, pos)
            out[rows] = torch.full_like(logits, float("-inf")).scatter(-1, chosen, 0.0)
        self.step += 1
        return out  # type: ignore[return-value]  # torch's FloatTensor is a typing fiction


def _candidates(logits: torch.Tensor, top_p: float, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, token ids) [R, K] of the tokens a row may draw, excluded ones at -inf; HF's order:
    top-k first, then top-p on the distribution renormalised over the top-k. Without either filter,
    every token is a candidate."""
    vocab = logits.shape[-1]
    if not top_k and top_p >= 1.0:
        return logits, torch.arange(vocab, device=logits.device).expand_as(logits)
    if top_k and top_k < vocab:
        values, ids = torch.topk(logits, top_k, dim=-1)  # sorted, most likely first
        if top_p >= 1.0:
            return values, ids
        log_norm = torch.logsumexp(values, dim=-1, keepdim=True)
    else:
        log_norm = torch.logsumexp(logits, dim=-1, keepdim=True)
        values, ids = torch.topk(logits, min(_NUCLEUS_PROBE, vocab), dim=-1)
        if bool((torch.exp(values - log_norm).sum(-1) < top_p).any()):
            # Some row's nucleus is wider than the probe: sort everything. The prefix computed below
            # is the same either way, so a row's draw does not depend on which path its batch took.
            values, ids = torch.sort(logits, dim=-1, descending=True)
    probs = torch.exp(values - log_norm)
    # Keep a token while the mass of the tokens ranked above it is below top_p: the smallest set
    # whose mass reaches top_p (the top token is always kept).
    before = probs.cumsum(-1) - probs
    keep = before < top_p
    keep[..., 0] = True
    return values.masked_fill(~keep, float("-inf")), ids


class _PerRowLimit(StoppingCriteria):
    """Stops each row at its own max_new_tokens (rows of one batch may ask for different lengths)."""

    def __init__(self, prompt_width: int, limits: list[int], device: torch.device) -> None:
        self.width = prompt_width
        self.limits = torch.tensor(limits, device=device)

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        return (input_ids.shape[1] - self.width) >= self.limits  # type: ignore[return-value]


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """EOS ids from the model's generation config (may be several, e.g. <|im_end|>) and the tokenizer."""
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    for value in (configured if isinstance(configured, list) else [configured]) + [tokenizer.eos_token_id]:
        if value is not None and value not in ids:
            ids.append(int(value))
    if not ids:
        raise ValueError("the model has no EOS token: cannot tell where an answer ends")
    return ids


def pad_token_id(tokenizer: Any, stops: list[int]) -> int:
    """The tokenizer's pad id, else the first EOS id (left padding is masked out, so any id works)."""
    return int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else stops[0]


@torch.no_grad()
def generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: list[list[int]],
    seeds: list[int],
    sampling: Sampling | list[Sampling],
    stop_strings: Sequence[str] = (),
) -> list[Completion]:
    """Decode a batch of tokenised prompts together (left padding); each row stops on its own, at a stop
    token, one of `stop_strings` (cut from the text) or its max_new_tokens; `sampling`: one or one per row."""
    samplings = sampling if isinstance(sampling, list) else [sampling] * len(prompts)
    if not len(prompts) == len(seeds) == len(samplings):
        raise ValueError("one seed and one sampling setting per prompt")
    device = next(model.parameters()).device
    stops = stop_token_ids(model, tokenizer)
    pad = pad_token_id(tokenizer, stops)
    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, ids in enumerate(prompts):
        input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        attention[row, width - len(ids):] = 1

    limits = [s.max_new_tokens for s in samplings]
    processors = LogitsProcessorList()
    if any(s.temperature > 0 for s in samplings):
        processors.append(SeededRowSampler(seeds, samplings, device))
    stopping = StoppingCriteriaList()
    if len(set(limits)) > 1:
        stopping.append(_PerRowLimit(width, limits, device))
    if stop_strings:
        stopping.append(StopStringCriteria(tokenizer, list(stop_strings)))
    # A clean config: the model's own defaults (repetition penalty, sampling flags ...) must not
    # sneak in and change answers between models or library versions.
    config = GenerationConfig(max_new_tokens=max(limits), do_sample=False, eos_token_id=stops, pad_token_id=pad)
    out = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention.to(device),
        generation_config=config,
        logits_processor=processors,
        stopping_criteria=stopping,
    )
    new_tokens = out[:, width:].tolist()

    results = []
    for row, tokens in enumerate(new_tokens):
        tokens = tokens[:limits[row]]
        stop_at = next((i for i, t in enumerate(tokens) if t in stops), None)
        if stop_at is None:
            text_ids, finish, used = tokens, "length", len(tokens)
        else:
            text_ids, finish, used = tokens[:stop_at], "stop", stop_at + 1
        text, cut = cut_at_stop(tokenizer.decode(text_ids, skip_special_tokens=True), stop_strings)
        results.append(Completion(
            text=text,
            finish_reason="stop" if cut else finish,
            prompt_tokens=len(prompts[row]),
            completion_tokens=used,
        ))
    return results


def cut_at_stop(text: str, stop_strings: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the earliest of `stop_strings`, and whether one was found."""
    ends = [i for i in (text.find(s) for s in stop_strings if s) if i >= 0]
    return (text[:min(ends)], True) if ends else (text, False)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """'auto' → bf16 on a GPU that supports it, else fp32 (bf16 matmuls are slow on most CPUs)."""
    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
             "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if name not in table:
        raise ValueError(f"dtype: expected auto|fp32|bf16|fp16, got {name!r}")
    return table[name]


def load_model(model_path: str, dtype: str = "auto", device: str | None = None) -> tuple[Any, Any]:
    """(model in eval mode on its device, tokenizer) for a local HF folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=resolve_dtype(dtype, dev))
    model.to(dev).eval()  # type: ignore[arg-type]  # transformers' stubs mistype .to
    return model, tokenizer
