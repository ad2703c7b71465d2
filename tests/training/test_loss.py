import math

import numpy as np
import pytest
import torch

from goemox.training.loss import (
    asymmetric_loss_with_logits,
    distillation_bce_with_logits,
    frequency_pos_weight,
    smoothed_bce_with_logits,
)


def test_matches_hand_computed_value():
    # One example, two labels: logits (0, 2), targets (1, 0), eps 0.2, pos_weight (3, 1).
    # Smoothed targets: 1*(0.8)+0.1 = 0.9 and 0.1.
    # Label 0: sigmoid(0)=0.5 -> -(3*0.9*log 0.5 + 0.1*log 0.5) = 2.8*log 2
    # Label 1: s=sigmoid(2) -> -(1*0.1*log s + 0.9*log(1-s))
    s = 1 / (1 + math.exp(-2))
    expected = (2.8 * math.log(2) + -(0.1 * math.log(s) + 0.9 * math.log(1 - s))) / 2
    loss = smoothed_bce_with_logits(
        torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]), smoothing=0.2, pos_weight=torch.tensor([3.0, 1.0])
    )
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_equals_torch_bce_with_logits_without_smoothing():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=generator) * 3
    targets = (torch.rand(16, 5, generator=generator) > 0.7).float()
    weight = torch.tensor([1.0, 2.0, 0.5, 10.0, 3.0])
    ours = smoothed_bce_with_logits(logits, targets, smoothing=0.0, pos_weight=weight)
    reference = torch.nn.BCEWithLogitsLoss(pos_weight=weight)(logits, targets)
    assert torch.allclose(ours, reference, atol=1e-6)
    assert torch.allclose(
        smoothed_bce_with_logits(logits, targets), torch.nn.BCEWithLogitsLoss()(logits, targets), atol=1e-6
    )


def test_smoothing_moves_targets_towards_one_half():
    # With eps=1 targets would all be 1/2; at eps close to 1 the optimum logit approaches 0.
    logits = torch.zeros(1, 1, requires_grad=True)
    smoothed_bce_with_logits(logits, torch.ones(1, 1), smoothing=0.5).backward()
    # d/dx at x=0 is sigmoid(0) - t = 0.5 - 0.75
    assert logits.grad.item() == pytest.approx(-0.25)


def test_rejects_invalid_smoothing():
    with pytest.raises(ValueError, match="smoothing must be in"):
        smoothed_bce_with_logits(torch.zeros(1, 1), torch.ones(1, 1), smoothing=1.0)


def test_frequency_pos_weight_formula():
    labels = np.zeros((100, 4))
    labels[:1, 0] = 1  # 1 positive: sqrt(99) = 9.95
    labels[:20, 1] = 1  # 20 positives: sqrt(80/20) = 2
    labels[:60, 2] = 1  # 60 positives: sqrt(40/60) < 1 -> 1
    # label 3 has no positives -> the cap
    weights = frequency_pos_weight(labels)
    assert weights == pytest.approx([math.sqrt(99), 2.0, 1.0, 10.0])
    assert frequency_pos_weight(labels, power=1.0, cap=50.0) == pytest.approx([50.0, 4.0, 1.0, 50.0])
    assert frequency_pos_weight(labels, power=0.0) == pytest.approx([1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="cap must be >= 1"):
        frequency_pos_weight(labels, cap=0.5)


def test_masked_loss_is_the_mean_over_the_annotated_pairs_only():
    # Two rows, two labels; row 1 does not annotate label 1. No smoothing, no weights.
    # Pairs kept: (0,0) logit 0 target 1 -> log 2; (0,1) logit 2 target 0 -> log(1+e^2); (1,0) logit -1 target 0
    # -> log(1+e^-1). The masked pair (1,1) would add a large loss (logit -3, target 1) if it counted.
    logits = torch.tensor([[0.0, 2.0], [-1.0, -3.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    expected = (math.log(2) + math.log(1 + math.exp(2)) + math.log(1 + math.exp(-1))) / 3
    assert smoothed_bce_with_logits(logits, targets, mask=mask).item() == pytest.approx(expected, rel=1e-6)
    full = smoothed_bce_with_logits(logits, targets, 0.1, torch.tensor([2.0, 3.0]))
    ones = smoothed_bce_with_logits(logits, targets, 0.1, torch.tensor([2.0, 3.0]), mask=torch.ones(2, 2))
    assert ones.item() == pytest.approx(full.item(), rel=1e-6)


def test_masked_pairs_get_no_gradient():
    logits = torch.tensor([[0.5, -0.5], [1.0, 2.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    smoothed_bce_with_logits(logits, torch.ones(2, 2), 0.05, mask=mask).backward()
    assert logits.grad[0, 1] == 0 and (logits.grad[mask.bool()] != 0).all()


def test_positive_weights_count_only_the_rows_that_annotate_a_label():
    labels = np.array([[1, 0], [0, 0], [0, 0], [0, 1], [0, 0]])
    mask = np.array([[1, 1], [1, 1], [1, 1], [1, 0], [1, 0]])
    # label 0: 1 positive, 4 negatives -> sqrt(4) = 2; label 1 over its 3 annotating rows: 0 positives -> cap...
    # ...unless the positive row were counted: row 3 does not annotate label 1, so it is not.
    assert frequency_pos_weight(labels, mask=mask).tolist() == [2.0, 10.0]
    mask[3, 1] = 1  # now 1 positive among 4 annotating rows: sqrt(3)
    assert frequency_pos_weight(labels, mask=mask)[1] == pytest.approx(math.sqrt(3))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_asymmetric_loss_matches_hand_computed_value():
    # One row, three labels: logits (1, 0.5, -2), targets (1, 0, 0), gamma_neg 2, gamma_pos 1, clip 0.1.
    # Label 0 (positive): -(1 - p) ** 1 * log p with p = sigmoid(1).
    # Label 1 (negative): p_m = sigmoid(0.5) - 0.1; -(p_m ** 2) * log(1 - p_m).
    # Label 2 (negative): sigmoid(-2) = 0.119, p_m = 0.019; -(p_m ** 2) * log(1 - p_m).
    p0, p1, p2 = sigmoid(1.0), sigmoid(0.5) - 0.1, sigmoid(-2.0) - 0.1
    expected = (-(1 - p0) * math.log(p0) - p1**2 * math.log(1 - p1) - p2**2 * math.log(1 - p2)) / 3
    loss = asymmetric_loss_with_logits(
        torch.tensor([[1.0, 0.5, -2.0]]), torch.tensor([[1.0, 0.0, 0.0]]), gamma_neg=2, gamma_pos=1, clip=0.1
    )
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_asymmetric_loss_ignores_negatives_below_the_margin():
    logits = torch.tensor([[-4.0, -3.5]], requires_grad=True)  # p = 0.018 and 0.029, both below clip 0.05
    loss = asymmetric_loss_with_logits(logits, torch.zeros(1, 2), gamma_neg=4, clip=0.05)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.abs().sum().item() == 0.0
    # Without the margin they cost a little, and less with focusing than without.
    plain = asymmetric_loss_with_logits(logits, torch.zeros(1, 2), gamma_neg=0, clip=0.0)
    focused = asymmetric_loss_with_logits(logits, torch.zeros(1, 2), gamma_neg=4, clip=0.0)
    assert 0 < focused.item() < plain.item()


def test_asymmetric_loss_without_focusing_or_margin_is_the_bce():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=generator) * 4
    targets = (torch.rand(16, 5, generator=generator) > 0.7).float()
    mask = (torch.rand(16, 5, generator=generator) > 0.2).float()
    weight = torch.tensor([1.0, 2.0, 0.5, 10.0, 3.0])
    for smoothing, pos_weight, pairs in ((0.0, None, None), (0.1, weight, None), (0.05, weight, mask)):
        asymmetric = asymmetric_loss_with_logits(logits, targets, 0.0, 0.0, 0.0, smoothing, pos_weight, pairs)
        bce = smoothed_bce_with_logits(logits, targets, smoothing, pos_weight, pairs)
        assert asymmetric.item() == pytest.approx(bce.item(), rel=1e-6)
    # Large logits: log(1 - p) comes from the logit, so a confident mistake stays finite.
    extreme = asymmetric_loss_with_logits(torch.tensor([[40.0]]), torch.zeros(1, 1), 0.0, 0.0, 0.0)
    assert extreme.item() == pytest.approx(40.0, rel=1e-6)


def test_asymmetric_loss_keeps_the_label_mask():
    logits = torch.tensor([[0.5, 2.0], [1.0, -3.0]], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss = asymmetric_loss_with_logits(logits, targets, mask=mask)
    loss.backward()
    assert logits.grad[0, 1] == 0 and (logits.grad[mask.bool()] != 0).all()
    kept = [asymmetric_loss_with_logits(logits[i : i + 1, j : j + 1], targets[i : i + 1, j : j + 1]).item()
            for i, j in ((0, 0), (1, 0), (1, 1))]  # fmt: skip
    assert loss.item() == pytest.approx(sum(kept) / 3, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"clip": 1.0}, "clip must be in"), ({"gamma_neg": -1.0}, "must be at least 0"), ({"smoothing": 1.0}, "smooth")],
)
def test_asymmetric_loss_rejects_invalid_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        asymmetric_loss_with_logits(torch.zeros(1, 1), torch.ones(1, 1), **kwargs)


def test_distillation_loss_is_the_tempered_bce_scaled_by_t_squared():
    # Student logit 1, soft target 0.8 at T = 2: T**2 * -(0.8 log s + 0.2 log(1 - s)) with s = sigmoid(1 / 2).
    s = sigmoid(0.5)
    expected = 4 * -(0.8 * math.log(s) + 0.2 * math.log(1 - s))
    loss = distillation_bce_with_logits(torch.tensor([[1.0]]), torch.tensor([[0.8]]), temperature=2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # At T = 1 it is the BCE against the soft targets, and the student that matches the teacher's logits is optimal.
    teacher = torch.tensor([[2.0, -1.0, 0.3]])
    student = teacher.clone().requires_grad_(True)
    for temperature in (1.0, 3.0):
        distillation_bce_with_logits(student, torch.sigmoid(teacher / temperature), temperature).backward()
        assert student.grad.abs().max().item() < 1e-6
        student.grad = None
    soft = torch.sigmoid(teacher)
    assert distillation_bce_with_logits(teacher, soft).item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy(soft, soft).item(), rel=1e-5
    )
    with pytest.raises(ValueError, match="temperature must be above 0"):
        distillation_bce_with_logits(teacher, soft, temperature=0.0)
