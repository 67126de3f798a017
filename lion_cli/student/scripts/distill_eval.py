"""How close a student is to its teacher on held-out rows: the token-level KL(teacher ‖ student) over
the answer tokens (the positions the training loss covers), and the rows an instruction-formatted text
holds ("### Instruction: … ### Response: …" blocks, the layout of lion's tiny corpus)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BLOCK = re.compile(r"### Instruction:\n(.*?)\n\n### Response:\n(.*?)(?=\n\n### Instruction:|\Z)", re.S)


def instruction_rows(text: str) -> list[dict[str, str]]:
    """{instruction, input, output} for each instruction block of `text`, the response up to its first
    blank line (what follows in the tiny corpus is unrelated filler)."""
    rows = []
    for instruction, response in BLOCK.findall(text):
        answer = response.split("\n\n", 1)[0].strip()
        if instruction.strip() and answer:
            rows.append({"instruction": instruction.strip(), "input": "", "output": answer})
    return rows


def _frozen(folder: str | Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    return model.eval()


def held_out_kl(teacher_dir: str | Path, student_dir: str | Path, rows: list[dict[str, str]],
                prompt_format: str = "alpaca", max_length: int = 256) -> float:
    """Mean KL(teacher ‖ student) per answer token over `rows`, each row scored alone (no padding),
    both models read with the student's tokenizer (preflight checked that it is the teacher's)."""
    from transformers import AutoTokenizer

    from lion_cli.student.scripts.sft_data import tokenize_example

    tokenizer = AutoTokenizer.from_pretrained(str(student_dir))
    examples = [tokenize_example(tokenizer, row, prompt_format, max_length) for row in rows]
    return answer_kl(_frozen(teacher_dir), _frozen(student_dir), examples, len(tokenizer))


def answer_kl(teacher: Any, student: Any, examples: list[dict[str, list[int]]], width: int) -> float:
    """Mean KL(teacher ‖ student) per answer token over tokenised examples, each scored alone, over the
    first `width` ids (the tokenizer's); the models are only read (no gradient)."""
    import torch

    from lion_cli.student.scripts.kd_losses import IGNORE, token_divergence

    device = next(student.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for example in examples:
            ids = torch.tensor([example["input_ids"]], device=device)
            answer = torch.tensor(example["labels"][1:], device=device) != IGNORE
            per_token = token_divergence("kl", teacher(ids).logits[0, :-1, :width].float(),
                                         student(ids).logits[0, :-1, :width].float())
            total += float(per_token[answer].sum())
            count += int(answer.sum())
    return total / max(count, 1)
