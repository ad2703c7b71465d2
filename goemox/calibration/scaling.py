"""Temperature scaling for multi-label (sigmoid) classifiers: calibration error, and the output layer a
calibration is folded into (see `goemox.calibration.logit_map` for the folding).

Temperature scaling divides every logit by a temperature `T > 0` (one for all labels, or one per label), so the
probabilities become `sigmoid(logit / T)`. `T` is fitted on validation data by minimising the binary cross-entropy
(negative log-likelihood) of those probabilities (`goemox.calibration.fitting`). Because `sigmoid` is monotone,
each label's ranking of texts is unchanged; only how confident the scores are changes.

**Expected calibration error (ECE)** for sigmoid outputs, as computed here:

- Per label `c`: the probabilities `p_ic` of the positive class over the `n` texts are put into `M` equal-width bins
  on [0, 1] (bin `b` holds `(b-1)/M <= p < b/M`; the last bin also holds 1). For each non-empty bin, `acc_b` is
  the share of its texts that truly carry the label and `conf_b` is the mean probability in it.
  `ECE_c = sum_b (n_b / n) * |acc_b - conf_b|`.
- `class_mean`: the mean of `ECE_c` over labels (every label counts the same, rare labels included).
- `pooled`: the same binned error over all `n * L` (text, label) pairs at once. Most pairs are negatives with
  probabilities near 0, so it is much smaller than `class_mean` and is dominated by frequent labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn
from transformers import (
    BertForSequenceClassification,
    DistilBertForSequenceClassification,
    PreTrainedModel,
    RobertaForSequenceClassification,
)

from goemox.errors import GoEmoXUsageError
from goemox.modeling_goemox import GoEmoXForSequenceClassification

TEMPERATURE_BOUNDS = (0.05, 20.0)
"""Search interval of a fitted temperature (slopes `1 / T` from 0.05 to 20); a fit that ends on an edge is reported
as such."""

DEFAULT_BINS = 15

TEMPERATURE_KEY = "calibration_temperature"

Temperature = float | list[float]


def check_logits_labels(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if z.ndim != 2 or z.shape != y.shape:
        raise ValueError(f"logits and labels must be 2-D arrays of the same shape; got {z.shape} and {y.shape}")
    if z.shape[0] == 0:
        raise ValueError("logits and labels need at least one row")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0/1")
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values")
    return z, y


def at_bounds(temperature: Temperature) -> bool:
    """Whether a fitted temperature (or any of them) ended on an edge of the search interval."""
    values = np.atleast_1d(np.asarray(temperature, dtype=np.float64))
    low, high = TEMPERATURE_BOUNDS
    return bool(np.any(np.isclose(values, low, rtol=1e-3) | np.isclose(values, high, rtol=1e-3)))


@dataclass
class ReliabilityBins:
    """Equal-width bins of predicted probabilities.

    Attributes:
        edges: `(M + 1,)` bin edges from 0 to 1.
        counts: `(M,)` predictions per bin.
        confidence: `(M,)` mean predicted probability per bin (NaN where the bin is empty).
        frequency: `(M,)` share of true positives per bin (NaN where the bin is empty).
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    frequency: np.ndarray

    @property
    def ece(self) -> float:
        """`sum_b (n_b / n) * |frequency_b - confidence_b|` over the non-empty bins."""
        filled = self.counts > 0
        gaps = np.abs(self.frequency[filled] - self.confidence[filled])
        return float((self.counts[filled] * gaps).sum() / self.counts.sum())


def reliability_bins(probs, labels, bins: int = DEFAULT_BINS) -> ReliabilityBins:
    """Bin probabilities (any shape) with their 0/1 labels into `bins` equal-width bins on [0, 1].

    Example:
        >>> r = reliability_bins([0.1, 0.2, 0.9, 0.8], [0, 1, 1, 1], bins=2)
        >>> r.counts.tolist(), r.confidence.round(2).tolist(), r.frequency.tolist(), round(r.ece, 3)
        ([2, 2], [0.15, 0.85], [0.5, 1.0], 0.25)
    """
    p = np.asarray(probs, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"probs and labels need the same non-zero size; got {p.size} and {y.size}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=p, minlength=bins) / counts
        frequency = np.bincount(index, weights=y, minlength=bins) / counts
    return ReliabilityBins(np.linspace(0.0, 1.0, bins + 1), counts, confidence, frequency)


def expected_calibration_error(probs, labels, bins: int = DEFAULT_BINS) -> dict:
    """ECE of multi-label sigmoid probabilities (definitions in the module docstring).

    Args:
        probs: `(n, L)` probabilities of the positive class per label.
        labels: `(n, L)` 0/1 labels.
        bins: number of equal-width bins.

    Returns:
        `{"per_class": [L floats], "class_mean": float, "pooled": float, "bins": bins}`.

    Example:
        >>> e = expected_calibration_error([[0.1, 0.9], [0.3, 0.9]], [[0, 1], [1, 1]], bins=10)
        >>> [round(v, 3) for v in e["per_class"]], round(e["class_mean"], 3), round(e["pooled"], 3)
        ([0.4, 0.1], 0.25, 0.25)
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.ndim != 2 or p.shape != y.shape:
        raise ValueError(f"probs and labels must be 2-D arrays of the same shape; got {p.shape} and {y.shape}")
    per_class = [reliability_bins(p[:, c], y[:, c], bins).ece for c in range(p.shape[1])]
    return {
        "per_class": per_class,
        "class_mean": float(np.mean(per_class)),
        "pooled": reliability_bins(p, y, bins).ece,
        "bins": bins,
    }


SUPPORTED_ARCHITECTURES = {
    GoEmoXForSequenceClassification: "classifier.out_proj",
    BertForSequenceClassification: "classifier",
    RobertaForSequenceClassification: "classifier.out_proj",
    DistilBertForSequenceClassification: "classifier",
}
"""The Linear layer that produces the logits, per supported architecture."""


def output_layer(model: PreTrainedModel) -> nn.Linear:
    """The final Linear layer whose outputs are the model's logits.

    Raises:
        GoEmoXUsageError: for an architecture not in `SUPPORTED_ARCHITECTURES`.
    """
    path = next((p for cls, p in SUPPORTED_ARCHITECTURES.items() if type(model) is cls), None)
    if path is None:
        names = ", ".join(cls.__name__ for cls in SUPPORTED_ARCHITECTURES)
        raise GoEmoXUsageError(
            f"cannot fold a calibration into {type(model).__name__}: its output layer is not known; "
            f"supported architectures: {names}"
        )
    layer = model.get_submodule(path)
    if not isinstance(layer, nn.Linear) or layer.out_features != model.config.num_labels:
        raise GoEmoXUsageError(
            f"{type(model).__name__}.{path} is not a Linear layer with {model.config.num_labels} outputs"
        )
    return layer
