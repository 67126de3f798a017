"""White-box distillation divergences between the teacher's (p) and the student's (q) next-token
distributions, averaged over answer tokens only. Pure torch, imported inside the functions.

    kl        KL(p ‖ q)                    forward KL (mode covering)
    rkl       KL(q ‖ p)                    reverse KL (mode seeking)
    skew_kl   KL(p ‖ αp + (1−α)q)          DistiLLM's skew KL
    skew_rkl  KL(q ‖ (1−α)p + αq)          DistiLLM's skew reverse KL

The mixtures are formed in log space (logsumexp of log α + log p and log(1−α) + log q), so no
probability is ever exponentiated and summed where it could underflow. At α = 0 the skew forms are the
plain ones; at α = 1 the mixture is the first argument itself and the divergence is 0.

Logits come in as (batch, positions, vocab) already aligned: position t of both predicts the same
token. `next_token_loss` does that alignment from the training labels (−100 on prompt and padding).
"""

from __future__ import annotations

import math
from typing import Any

DIVERGENCES = ("kl", "rkl", "skew_kl", "skew_rkl")
IGNORE = -100  # the label value of prompt and padding tokens (sft_data.IGNORE)


def _log_probs(logits: Any) -> Any:
    import torch

    # bf16/fp16 logits lose the small probabilities the divergence sums over: work in at least fp32.
    return torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)


def _log_mixture(log_a: Any, log_b: Any, weight_a: float) -> Any:
    """log(w·a + (1−w)·b), elementwise, from log a and log b."""
    import torch

    if weight_a <= 0.0:
        return log_b
    if weight_a >= 1.0:
        return log_a
    return torch.logaddexp(log_a + math.log(weight_a), log_b + math.log1p(-weight_a))


def _kl_per_position(log_x: Any, log_y: Any) -> Any:
    """KL(x ‖ y) summed over the vocabulary, one value per position."""
    return (log_x.exp() * (log_x - log_y)).sum(dim=-1)


def token_divergence(kind: str, teacher_logits: Any, student_logits: Any, alpha: float = 0.1) -> Any:
    """The divergence `kind` at every position: a (batch, positions) tensor."""
    log_p, log_q = _log_probs(teacher_logits), _log_probs(student_logits)
    if kind == "kl":
        return _kl_per_position(log_p, log_q)
    if kind == "rkl":
        return _kl_per_position(log_q, log_p)
    if kind == "skew_kl":
        return _kl_per_position(log_p, _log_mixture(log_p, log_q, alpha))
    if kind == "skew_rkl":
        return _kl_per_position(log_q, _log_mixture(log_p, log_q, 1.0 - alpha))
    raise ValueError(f"divergence {kind!r}: expected one of {', '.join(DIVERGENCES)}")


def masked_mean(values: Any, mask: Any) -> Any:
    """Mean of `values` where `mask` is true; 0 (still differentiable) when nothing is masked in."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def divergence_loss(kind: str, teacher_logits: Any, student_logits: Any, mask: Any, alpha: float = 0.1) -> Any:
    """The divergence averaged over the positions where `mask` is true (the answer tokens)."""
    per_position = token_divergence(kind, teacher_logits, student_logits, alpha)
    # A masked position's value is multiplied by 0, but a non-finite one would still poison the sum.
    per_position = per_position.masked_fill(~mask.bool(), 0.0)
    return masked_mean(per_position, mask)


def next_token_loss(kind: str, teacher_logits: Any, student_logits: Any, labels: Any, alpha: float = 0.1) -> Any:
    """The divergence over the answer tokens of a training batch: the logits at t predict labels[t+1]
    (the causal LM shift), so the last position is dropped and a position counts where the next label
    is an answer token, exactly the tokens the SFT loss covers."""
    mask = labels[:, 1:] != IGNORE
    return divergence_loss(kind, teacher_logits[:, :-1, :], student_logits[:, :-1, :], mask, alpha)
