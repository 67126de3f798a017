"""Student-generated outputs for white-box distillation (TrainSpec.sgo = "adaptive"), after DistiLLM's
adaptive off-policy scheme: with probability p a training batch is replaced by sequences the student
wrote itself, and the divergence from the teacher is taken over those generated answer tokens.

The schedule (next_probability): p starts at 0 and rises by PROBABILITY_STEP, up to PROBABILITY_CAP,
at each evaluation whose held-out loss (the KL to the teacher, distill_eval.answer_kl) is no better
than the best so far. The step and the cap are lion's round values in DistiLLM's spirit (at most half
the batches off the teacher's answers), not numbers copied from its code.

The samples come from the current student through the discrimination stage's batched generation
(batch_decode.generate_batch, per-row seeds derived from the spec's seed and the step), are kept in a
bounded replay buffer (oldest dropped) and reused: a student batch is drawn from the buffer after the
batch's own prompts have been answered and added. Every draw is a function of (seed, step), so every
process makes the same choice and a run is repeatable. Resumable: p, the best loss, the buffer and the
count of student batches are written into each checkpoint folder (STATE_FILE) and read back on resume.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROBABILITY_STEP = 0.1
PROBABILITY_CAP = 0.5
# A held-out loss must beat the best by this share to count as an improvement: smaller moves are noise.
MIN_IMPROVEMENT = 1e-3
BUFFER_SIZE = 256  # sequences kept; a tiny share of a training set, enough to reuse across batches
MAX_NEW_TOKENS = 64  # a student answer's length limit (also bounded by max_length)
TEMPERATURE = 1.0  # sampling from the student's own distribution, as on-policy distillation does
STATE_FILE = "lion-sgo.json"


def next_probability(p: float, best: float | None, loss: float,
                     step: float = PROBABILITY_STEP, cap: float = PROBABILITY_CAP) -> tuple[float, float]:
    """(new p, new best held-out loss) after an evaluation: p rises only when `loss` did not improve on
    `best` (by MIN_IMPROVEMENT of it), and never above `cap`."""
    if best is None or loss < best * (1 - MIN_IMPROVEMENT):
        return min(p, cap), loss
    return min(p + step, cap), best


def uses_student_batch(seed: int, step: int, p: float) -> bool:
    """Whether the batch of optimizer step `step` is a student batch: a draw that depends on (seed, step) only."""
    return p > 0 and random.Random(f"sgo {seed} {step}").random() < p


@dataclass
class SgoState:
    probability: float = 0.0
    best: float | None = None
    student_batches: int = 0  # batches trained on student samples so far
    buffer: list[tuple[list[int], list[int]]] = field(default_factory=list)  # (prompt ids, answer ids)

    def observe(self, loss: float) -> None:
        self.probability, self.best = next_probability(self.probability, self.best, loss)

    def add(self, samples: list[tuple[list[int], list[int]]]) -> None:
        self.buffer = (self.buffer + samples)[-BUFFER_SIZE:]

    def draw(self, seed: int, key: str, size: int) -> list[dict[str, list[int]]]:
        """`size` training examples from the buffer (with replacement), the draw fixed by (seed, key):
        prompt masked, answer learnt."""
        from lion_cli.student.scripts.sft_data import IGNORE

        rng = random.Random(f"sgo draw {seed} {key}")
        picked = [self.buffer[rng.randrange(len(self.buffer))] for _ in range(size)]
        return [{"input_ids": p + a, "labels": [IGNORE] * len(p) + a} for p, a in picked]

    def save(self, folder: Path) -> None:
        (folder / STATE_FILE).write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> SgoState:
        path = folder / STATE_FILE
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["buffer"] = [(list(p), list(a)) for p, a in raw["buffer"]]
        return cls(**raw)


def batch_prompts(input_ids: Any, labels: Any) -> list[list[int]]:
    """Each row's prompt: its tokens before the first answer (label) position."""
    from lion_cli.student.scripts.sft_data import IGNORE

    prompts = []
    for ids, row_labels in zip(input_ids.tolist(), labels.tolist(), strict=True):
        first = next((i for i, label in enumerate(row_labels) if label != IGNORE), len(ids))
        prompts.append(ids[:first])
    return prompts


def student_samples(model: Any, tokenizer: Any, prompts: list[list[int]], seed: int, key: str,
                    max_length: int) -> list[tuple[list[int], list[int]]]:
    """The student's sampled answer to each prompt, as token ids ending with the end-of-sequence token
    (the same ending the teacher's answers have in training), within max_length."""
    import torch

    from lion_cli.student.scripts.batch_decode import Sampling, derive_seed, generate_batch

    room = max(1, min(MAX_NEW_TOKENS, max_length - max(len(p) for p in prompts) - 1))
    seeds = [derive_seed(seed, f"sgo {key} {row}") for row in range(len(prompts))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            done = generate_batch(model, tokenizer, prompts, seeds,
                                  Sampling(max_new_tokens=room, temperature=TEMPERATURE))
    finally:
        model.train(was_training)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    answers = [tokenizer(d.text, add_special_tokens=False)["input_ids"][:room] + eos for d in done]
    return list(zip(prompts, answers, strict=True))
