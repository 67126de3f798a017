"""DPO entry script: `python -m lion_cli.student.scripts.dpo --spec spec.json`, also under torchrun,
deepspeed or accelerate (the same command line as scripts/train.py). The spec is a DPOSpec
(lion_cli/student/specs/dpo.py): a TrainSpec whose data is a pairs file, plus beta and the loss.

The loss is DPO's on the HF Trainer (scripts/dpo_data.dpo_loss). With precompute_ref the reference
model's log-probabilities are computed once (rank 0, before training) into the job's folder under a
fingerprint (scripts/dpo_reference.py) and read back by every epoch and resume; without it the
reference model runs beside the policy at every step. Checkpoints, resume, final/ and metrics.jsonl
are the SFT job's (train.train_and_finish); each step line adds rewards_chosen, rewards_rejected,
margin and accuracy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from transformers import Trainer

from lion_cli.student.scripts.train import entry, log, prepare, train_and_finish
from lion_cli.student.specs import DPOSpec, SpecError

STAT_KEYS = ("rewards_chosen", "rewards_rejected", "margin", "accuracy")


class DPOTrainer(Trainer):  # type: ignore[misc]
    """The Trainer with DPO's loss; the batch is PairCollator's (2B rows, chosen first)."""

    def __init__(self, *args: Any, beta: float, loss_type: str, reference: Any = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.beta, self.loss_type, self.reference = beta, loss_type, reference
        # The loss is a mean per micro-batch: the Trainer must divide it over gradient accumulation.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        self._stats: list[dict[str, float]] = []

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        import torch

        from lion_cli.student.scripts.dpo_data import dpo_loss, sequence_logps

        pairs = inputs["index"].shape[0]
        policy = sequence_logps(model, inputs)
        if "ref_chosen" in inputs:
            ref_chosen, ref_rejected = inputs["ref_chosen"], inputs["ref_rejected"]
        else:
            with torch.no_grad():
                ref = sequence_logps(self.reference, inputs)
            ref_chosen, ref_rejected = ref[:pairs], ref[pairs:]
        loss, stats = dpo_loss(policy[:pairs], policy[pairs:], ref_chosen, ref_rejected, self.beta, self.loss_type)
        self._stats.append(stats)
        return (loss, {"logps": policy.detach()}) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kw: Any) -> None:
        if "loss" in logs and self._stats:
            for key in STAT_KEYS:
                logs[key] = sum(s[key] for s in self._stats) / len(self._stats)
            self._stats = []
        super().log(logs, *args, **kw)


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def reference_logps(spec: DPOSpec, tokenizer: Any, examples: list[dict[str, Any]], device: Any) -> tuple[Any, Any]:
    """The stored reference values when their fingerprint matches, else computed now by rank 0 and stored;
    every rank reads the same file."""
    from lion_cli.student.scripts import dpo_reference as ref
    from lion_cli.student.scripts.train_callbacks import MetricsCallback, is_rank0

    expected = ref.fingerprint(spec, tokenizer)
    if is_rank0():
        if ref.stored(spec.reference_path, expected) is None:
            log(f"reference log-probs: computing them for {len(examples)} pairs with {spec.reference_model}")
            model = ref.load_reference_model(spec, len(tokenizer))
            chosen, rejected = ref.compute(model, examples, tokenizer.pad_token_id, device)
            ref.store(spec.reference_path, chosen, rejected, expected)
            del model
            computed = True
        else:
            log(f"reference log-probs: reused from {spec.reference_path.name} (same fingerprint)")
            computed = False
        MetricsCallback(spec.metrics_path)._write({"event": "reference", "computed": computed, "pairs": len(examples),
                                                   "ts": time.time()})
    _barrier()
    found = ref.stored(spec.reference_path, expected)
    if found is None:
        raise RuntimeError(f"{spec.reference_path}: the reference log-probs were not written")
    return found


def build_pairs(spec: DPOSpec, tokenizer: Any) -> list[dict[str, Any]]:
    from lion_cli.student.scripts.dpo_data import load_pairs, tokenize_pair

    tokenised = [tokenize_pair(tokenizer, p, spec.prompt_format, spec.max_length)
                 for p in load_pairs(Path(spec.data_path))]
    kept = [dict(t, index=i) for i, t in enumerate(tokenised) if t is not None]
    if len(kept) < len(tokenised):
        log(f"{len(tokenised) - len(kept)} pair(s) dropped: the prompt alone fills max_length")
    if not kept:
        raise SpecError(f"{spec.data_path}: no pair has an answer token left within max_length")
    return kept


def run(spec: DPOSpec, ds_override: str | None) -> Path:
    from lion_cli.student.scripts.dpo_data import PairCollator
    from lion_cli.student.scripts.dpo_reference import load_reference_model
    from lion_cli.student.scripts.train_callbacks import MetricsCallback

    model, tokenizer, args = prepare(spec, ds_override)
    examples = build_pairs(spec, tokenizer)
    reference = None
    if spec.precompute_ref:
        chosen, rejected = reference_logps(spec, tokenizer, examples, args.device)
        # Row i of the stored log-probs is examples[i]: the kept pairs, not the file's line numbers.
        for row, ex in enumerate(examples):
            ex["ref_chosen"], ex["ref_rejected"] = float(chosen[row]), float(rejected[row])
    else:
        reference = load_reference_model(spec, len(tokenizer)).to(args.device)
    metrics = MetricsCallback(spec.metrics_path, STAT_KEYS)
    trainer = DPOTrainer(model=model, args=args, train_dataset=examples, processing_class=tokenizer,
                         data_collator=PairCollator(tokenizer.pad_token_id), callbacks=[metrics],
                         beta=spec.beta, loss_type=spec.loss_type, reference=reference)
    return train_and_finish(trainer, spec, metrics)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return entry(argv, "dpo", "Preference-tune the student (DPO) on chosen/rejected pairs.",
                 lambda path, ds: run(DPOSpec.read(path), ds))


if __name__ == "__main__":
    raise SystemExit(main())
