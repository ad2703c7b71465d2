"""The multi-label losses: label-smoothed, positively weighted binary cross-entropy, the asymmetric loss for rare
labels, the distillation loss on a teacher's soft targets, and the positive-weight formula."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def smoothed_bce_with_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    smoothing: float = 0.0,
    pos_weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean binary cross-entropy over every (example, label) pair, with label smoothing and positive weights.

    Targets are smoothed towards 1/2: `y * (1 - smoothing) + smoothing / 2`. For a smoothed target `t`,
    logit `x` and positive weight `w` the per-element loss is
    `-(w * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))`, so the weight scales only the positive
    term. With `smoothing=0` this equals `torch.nn.BCEWithLogitsLoss(pos_weight=w)`.

    With a `mask`, only the pairs where it is 1 count: the loss is the mean over them (the labels a row's corpus
    does not annotate teach nothing). An all-ones mask gives the unmasked loss.

    Args:
        logits: raw scores, shape (batch, num_labels).
        targets: multi-hot 0/1 labels, same shape.
        smoothing: the smoothing factor `eps`, in [0, 1).
        pos_weight: per-label weights of the positive term, shape (num_labels,); `None` means 1.
        mask: 0/1 weights of the pairs, same shape as `logits`; `None` counts every pair.

    Example:

    ```python
    >>> import torch
    >>> loss = smoothed_bce_with_logits(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), smoothing=0.1)
    >>> round(loss.item(), 4)
    0.6931
    ```"""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    targets = targets.to(logits.dtype)
    smoothed = targets * (1.0 - smoothing) + smoothing / 2.0
    if pos_weight is not None:
        pos_weight = pos_weight.to(device=logits.device, dtype=logits.dtype)
    if mask is None:
        return F.binary_cross_entropy_with_logits(logits, smoothed, pos_weight=pos_weight)
    mask = mask.to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, smoothed, pos_weight=pos_weight, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


def asymmetric_loss_with_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_neg: float = 4.0,
    gamma_pos: float = 0.0,
    clip: float = 0.05,
    smoothing: float = 0.0,
    pos_weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean asymmetric loss (Ridnik et al., "Asymmetric Loss For Multi-Label Classification", ICCV 2021) over every
    (example, label) pair.

    With `p = sigmoid(x)`, the shifted probability `p_m = max(p - clip, 0)` and a (smoothed) target `t`, the
    per-element loss is `-(w * t * (1 - p) ** gamma_pos * log(p) + (1 - t) * p_m ** gamma_neg * log(1 - p_m))`.
    Negatives that the model already scores low weigh little (`gamma_neg` focuses on the hard ones) and those below
    `clip` not at all, so the many easy negatives of a rare label no longer drown its few positives. Smoothing, the
    positive weight `w` and the `mask` act as in :func:`smoothed_bce_with_logits`; with `gamma_neg = gamma_pos = 0`
    and `clip = 0` the two losses are equal.

    Args:
        logits: raw scores, shape (batch, num_labels).
        targets: multi-hot 0/1 labels, same shape.
        gamma_neg: focusing exponent of the negative term (0: none).
        gamma_pos: focusing exponent of the positive term (0: none).
        clip: probability margin subtracted from negatives' probabilities, in [0, 1).
        smoothing: the label smoothing factor `eps`, in [0, 1).
        pos_weight: per-label weights of the positive term, shape (num_labels,); `None` means 1.
        mask: 0/1 weights of the pairs, same shape as `logits`; `None` counts every pair.

    Example:

    ```python
    >>> import torch
    >>> loss = asymmetric_loss_with_logits(torch.tensor([[0.0, -3.0]]), torch.tensor([[1.0, 0.0]]))
    >>> round(loss.item(), 4)  # the easy negative (p = 0.047 < clip) adds nothing: log(2) / 2
    0.3466
    ```"""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if not 0.0 <= clip < 1.0:
        raise ValueError(f"clip must be in [0, 1), got {clip}")
    if gamma_neg < 0 or gamma_pos < 0:
        raise ValueError(f"gamma_neg and gamma_pos must be at least 0, got {gamma_neg} and {gamma_pos}")
    targets = targets.to(logits.dtype)
    smoothed = targets * (1.0 - smoothing) + smoothing / 2.0
    probs = torch.sigmoid(logits)
    positive = F.logsigmoid(logits) * (1.0 - probs).pow(gamma_pos)
    if pos_weight is not None:
        positive = positive * pos_weight.to(device=logits.device, dtype=logits.dtype)
    if clip > 0:
        shifted = (probs - clip).clamp(min=0.0)
        negative = torch.log((1.0 - shifted).clamp(min=clip)) * shifted.pow(gamma_neg)
    else:  # log(1 - p) from the logit, exact where p rounds to 1
        negative = F.logsigmoid(-logits) * probs.pow(gamma_neg)
    losses = -(smoothed * positive + (1.0 - smoothed) * negative)
    if mask is None:
        return losses.mean()
    mask = mask.to(logits.dtype)
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


def distillation_bce_with_logits(
    logits: torch.Tensor, soft_targets: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Mean binary cross-entropy between the student's tempered probabilities and a teacher's soft targets.

    The student's logits are divided by `temperature` as the teacher's were (the soft targets are
    `sigmoid(teacher_logits / T)`, or a mean of several teachers' such probabilities), and the loss is scaled by
    `T ** 2` so that its gradients keep their size whatever `T` (Hinton et al., 2015). At `T = 1` it is the plain
    binary cross-entropy against the teachers' probabilities. Every pair counts: a teacher scores every label of
    every text, labelled or not.

    Args:
        logits: the student's raw scores, shape (batch, num_labels).
        soft_targets: the teachers' probabilities at `temperature`, same shape, in [0, 1].
        temperature: `T`, above 0.

    Example:

    ```python
    >>> import torch
    >>> round(distillation_bce_with_logits(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]])).item(), 4)
    0.6931
    ```"""
    if not temperature > 0:
        raise ValueError(f"temperature must be above 0, got {temperature}")
    soft_targets = soft_targets.to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits / temperature, soft_targets) * temperature**2


def frequency_pos_weight(
    label_matrix: np.ndarray, power: float = 0.5, cap: float = 10.0, mask: np.ndarray | None = None
) -> np.ndarray:
    """Positive weights from class frequencies: `clip((neg / pos) ** power, 1, cap)` per label.

    With the defaults this is `clip(sqrt(neg/pos), 1, 10)`: rare labels weigh up to 10 times more when
    positive, common ones (positive in half the rows or more) keep weight 1. A label with no positive
    row gets `cap`. With a `mask`, a label's positives and negatives are counted over the rows that annotate it.

    Args:
        label_matrix: multi-hot training labels, shape (rows, num_labels).
        power: exponent on the negative-to-positive ratio (0 disables weighting, 1 is full inverse frequency).
        cap: the largest weight.
        mask: 0/1 matrix of the annotated (row, label) pairs, same shape; `None` counts every row.

    Example:

    ```python
    >>> import numpy as np
    >>> frequency_pos_weight(np.array([[1, 1], [0, 1], [0, 1], [0, 1], [0, 0]]))
    array([2., 1.])
    ```"""
    if cap < 1.0:
        raise ValueError(f"cap must be >= 1, got {cap}")
    matrix = np.asarray(label_matrix, dtype=np.float64)
    counted = np.ones_like(matrix) if mask is None else np.asarray(mask, dtype=np.float64)
    positives = (matrix * counted).sum(axis=0)
    negatives = counted.sum(axis=0) - positives
    with np.errstate(divide="ignore"):
        ratio = np.where(positives > 0, negatives / np.maximum(positives, 1.0), np.inf)
    return np.clip(ratio**power, 1.0, cap)
