"""The white-box distillation divergences (scripts/kd_losses.py) on small tensors against values worked
out by hand, their edge cases (α = 0, α = 1, p = q), the answer-token mask, and gradcheck in float64."""

from __future__ import annotations

import math

import pytest
import torch

from lion_cli.student.scripts.kd_losses import DIVERGENCES, divergence_loss, next_token_loss, token_divergence

# Two positions over a 2-token vocabulary: p (teacher) and q (student) as probabilities.
P = [[0.5, 0.5], [0.2, 0.8]]
Q = [[0.9, 0.1], [0.6, 0.4]]


def logits(rows: list[list[float]]) -> torch.Tensor:
    """Logits whose softmax is `rows` (log-probabilities are logits), shaped (1, positions, vocab)."""
    return torch.tensor([[[math.log(x) for x in row] for row in rows]], dtype=torch.float64)


def kl(x: list[float], y: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(x, y, strict=True))


def mix(x: list[float], y: list[float], w: float) -> list[float]:
    return [w * a + (1 - w) * b for a, b in zip(x, y, strict=True)]


def divergence(kind: str, alpha: float = 0.1) -> list[float]:
    return token_divergence(kind, logits(P), logits(Q), alpha)[0].tolist()


def test_hand_computed_first_position() -> None:
    # p = (.5, .5), q = (.9, .1): KL = .5 ln(.5/.9) + .5 ln(.5/.1) = ln(5/3); RKL = .9 ln 1.8 + .1 ln .2;
    # at α = .5 both mixtures are (.7, .3): KL(p‖m) = .5 ln(25/21), KL(q‖m) = .9 ln(9/7) + .1 ln(1/3).
    assert divergence("kl")[0] == pytest.approx(math.log(5 / 3), abs=1e-12)
    assert divergence("rkl")[0] == pytest.approx(0.9 * math.log(1.8) + 0.1 * math.log(0.2), abs=1e-12)
    assert divergence("skew_kl", 0.5)[0] == pytest.approx(0.5 * math.log(25 / 21), abs=1e-12)
    assert divergence("skew_rkl", 0.5)[0] == pytest.approx(0.9 * math.log(9 / 7) + 0.1 * math.log(1 / 3), abs=1e-12)


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.9])
def test_skew_forms_against_their_definition(alpha: float) -> None:
    for t in range(2):
        assert divergence("skew_kl", alpha)[t] == pytest.approx(kl(P[t], mix(P[t], Q[t], alpha)), abs=1e-12)
        assert divergence("skew_rkl", alpha)[t] == pytest.approx(kl(Q[t], mix(P[t], Q[t], 1 - alpha)), abs=1e-12)


def test_alpha_zero_is_the_plain_divergence_and_alpha_one_is_zero() -> None:
    assert divergence("skew_kl", 0.0) == pytest.approx(divergence("kl"), abs=1e-12)
    assert divergence("skew_rkl", 0.0) == pytest.approx(divergence("rkl"), abs=1e-12)
    assert divergence("skew_kl", 1.0) == pytest.approx([0.0, 0.0], abs=1e-12)
    assert divergence("skew_rkl", 1.0) == pytest.approx([0.0, 0.0], abs=1e-12)
    # Close to the edges the log-space mixture is continuous with them.
    assert divergence("skew_kl", 1e-9) == pytest.approx(divergence("kl"), abs=1e-6)
    assert divergence("skew_kl", 1 - 1e-9) == pytest.approx([0.0, 0.0], abs=1e-6)


def test_symmetric_cases() -> None:
    p, q = logits(P), logits(Q)
    # Swapping teacher and student turns each forward form into its reverse one.
    assert torch.allclose(token_divergence("kl", p, q), token_divergence("rkl", q, p))
    assert torch.allclose(token_divergence("skew_kl", p, q, 0.3), token_divergence("skew_rkl", q, p, 0.3))
    # Equal distributions: every divergence is 0; unequal ones: all positive.
    for kind in DIVERGENCES:
        assert token_divergence(kind, p, p, 0.3).abs().max() < 1e-12
        assert (token_divergence(kind, p, q, 0.3) > 0).all()


def test_masked_positions_contribute_nothing() -> None:
    p, q = logits(P), logits(Q)
    only_first = torch.tensor([[True, False]])
    for kind in DIVERGENCES:
        assert divergence_loss(kind, p, q, only_first, 0.1).item() == pytest.approx(divergence(kind)[0], abs=1e-12)
        both = divergence_loss(kind, p, q, torch.tensor([[True, True]]), 0.1).item()
        assert both == pytest.approx(sum(divergence(kind)) / 2, abs=1e-12)
    # Whatever a masked position holds, it changes neither the loss nor gets any gradient.
    wild = q.clone()
    wild[0, 1] = torch.tensor([1e4, -1e4])
    wild.requires_grad_(True)
    loss = divergence_loss("skew_kl", p, wild, only_first, 0.1)
    loss.backward()
    assert loss.item() == pytest.approx(divergence("skew_kl")[0], abs=1e-12)
    assert wild.grad is not None and torch.all(wild.grad[0, 1] == 0)


def test_next_token_loss_uses_the_answer_labels_shifted() -> None:
    torch.manual_seed(0)
    teacher, student = torch.randn(2, 5, 7, dtype=torch.float64), torch.randn(2, 5, 7, dtype=torch.float64)
    labels = torch.tensor([[-100, -100, 3, 4, -100], [-100, 1, 2, 3, 4]])
    got = next_token_loss("kl", teacher, student, labels)
    # Positions whose NEXT label is an answer token: row 0 → 1, 2; row 1 → 0, 1, 2, 3.
    per = token_divergence("kl", teacher, student)
    expected = (per[0, 1] + per[0, 2] + per[1, :4].sum()) / 6
    assert got.item() == pytest.approx(expected.item(), abs=1e-12)


def test_extreme_logits_stay_finite() -> None:
    teacher = torch.tensor([[[60.0, -60.0, 0.0]]], dtype=torch.float32)
    student = torch.tensor([[[-60.0, 60.0, 0.0]]], dtype=torch.float32)
    for kind in DIVERGENCES:
        assert torch.isfinite(token_divergence(kind, teacher, student, 0.1)).all()
    assert torch.isfinite(token_divergence("skew_kl", teacher.bfloat16(), student.bfloat16(), 0.1)).all()


@pytest.mark.parametrize("kind", DIVERGENCES)
def test_gradcheck_float64(kind: str) -> None:
    torch.manual_seed(1)
    teacher = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    student = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    assert torch.autograd.gradcheck(lambda t, s: divergence_loss(kind, t, s, mask, 0.1), (teacher, student))


def test_unknown_divergence_is_refused() -> None:
    with pytest.raises(ValueError, match="skew_kl"):
        token_divergence("js", logits(P), logits(Q))
