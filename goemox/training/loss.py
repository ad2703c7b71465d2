"""Label-smoothed, positively weighted binary cross-entropy, and the positive-weight formula."""

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
