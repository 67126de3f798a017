"""The baseline of bench/eval_smollm2.py: the same model work as `lion eval --mode both`, done directly.

One process, one model load, transformers only: the prompts through the tokenizer's chat template,
greedy generation in batches (left padding, stopping at EOS or max_new_tokens), and for each
multiple-choice item the log-probability of every option's tokens after the prompt (one forward
pass of prompt + option, batched, log-softmax of the logits — the plain way). No store, no job
records, no subprocesses: what is left when everything lion adds around the model is taken away.

    python bench/hf_direct_eval.py JOB.json     (JOB: model, batch_size, max_new_tokens,
                                                 generate: [prompt], loglik: [[prompt, [option]]])
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def chat_ids(tok: Any, text: str) -> list[int]:
    rendered = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                       tokenize=False)
    return list(tok(rendered, add_special_tokens=False).input_ids)


def generate_all(model: Any, tok: Any, prompts: list[str], batch: int, max_new: int) -> int:
    import torch

    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    made = 0
    for start in range(0, len(prompts), batch):
        ids = [chat_ids(tok, p) for p in prompts[start:start + batch]]
        width = max(len(s) for s in ids)
        inp = torch.tensor([[pad] * (width - len(s)) + s for s in ids])
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in ids])
        with torch.no_grad():
            out = model.generate(input_ids=inp, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                                 pad_token_id=pad)
        made += int((out[:, width:] != pad).sum())
    return made


def score_all(model: Any, tok: Any, items: list[list[Any]], batch: int) -> int:
    import torch

    scored = 0
    for prompt, options in items:
        ctx = chat_ids(tok, prompt)
        conts = [list(tok(o, add_special_tokens=False).input_ids) for o in options]
        for start in range(0, len(conts), batch):
            seqs = [ctx + c for c in conts[start:start + batch]]
            width = max(len(s) for s in seqs)
            inp = torch.tensor([s + [0] * (width - len(s)) for s in seqs])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=inp, attention_mask=mask).logits.float(), dim=-1)
            for i, c in enumerate(conts[start:start + batch]):
                float(sum(logp[i, len(ctx) - 1 + j, t] for j, t in enumerate(c)))
                scored += 1
    return scored


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(job["model"])
    model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=torch.float32).eval()
    made = generate_all(model, tok, job["generate"], job["batch_size"], job["max_new_tokens"])
    scored = score_all(model, tok, job["loglik"], job["batch_size"])
    print(json.dumps({"generated_tokens": made, "options_scored": scored}))


if __name__ == "__main__":
    main()
