"""White-box distillation inside the SFT job (scripts/train.py): with a TrainSpec whose objective is not
"sft", the loss is that divergence between a local teacher model's and the student's next-token
distributions over the answer tokens (scripts/kd_losses.py), on the same batches, masks, checkpoints,
resume and metrics as SFT. The step lines' "loss" is the objective's value.

The teacher runs in eval mode without gradient, in the student's dtype on the student's device: every
process holds a full copy (replicated, under DDP as under DeepSpeed or FSDP).
"""

from __future__ import annotations

from typing import Any

from transformers import Trainer

from lion_cli.student.specs import TrainSpec


def load_teacher(spec: TrainSpec, vocab_size: int, device: Any) -> Any:
    """The teacher, frozen, its vocabulary grown to the student's when the student gained a pad token
    (the new rows are the mean of the others, as the student's: sft_data.ensure_pad_token)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lion_cli.student.scripts.sft_data import ensure_pad_token

    teacher: Any = AutoModelForCausalLM.from_pretrained(spec.teacher_model, dtype=torch.float32)
    if teacher.get_output_embeddings().weight.shape[0] < vocab_size:
        ensure_pad_token(AutoTokenizer.from_pretrained(spec.teacher_model), teacher)
    teacher.config.use_cache = False
    teacher.requires_grad_(False)
    return teacher.to(device).eval()


class DistillTrainer(Trainer):  # type: ignore[misc]
    """The Trainer whose loss is the divergence from the teacher over the answer tokens."""

    def __init__(self, *args: Any, teacher: Any, objective: str, alpha: float, vocab_size: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.teacher = teacher
        self.objective: str = objective
        self.alpha, self.vocab_size = alpha, vocab_size
        # The loss is a mean over a micro-batch's answer tokens: the Trainer divides it over accumulation.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        self._teacher_placed = False

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        import torch

        from lion_cli.student.scripts.kd_losses import next_token_loss

        if not self._teacher_placed:
            # Under DeepSpeed the student's weights become bf16/fp16 after loading: the teacher follows.
            self.teacher.to(dtype=next(model.parameters()).dtype)
            self._teacher_placed = True
        labels = inputs["labels"]
        features = {k: v for k, v in inputs.items() if k != "labels"}
        outputs = model(**features)
        with torch.no_grad():
            teacher_logits = self.teacher(**features).logits
        # Ids past the tokenizer's are never real tokens (embedding tables are often padded): left out.
        width = self.vocab_size
        loss = next_token_loss(self.objective, teacher_logits[..., :width], outputs.logits[..., :width], labels,
                               self.alpha)
        return (loss, outputs) if return_outputs else loss
