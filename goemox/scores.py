"""What a model's logits and its config's stored values mean: probabilities, thresholds and out-of-domain scores.

Every part of goemox turns logits into probabilities with :func:`sigmoid`, reads a model's decision thresholds with
:func:`stored_thresholds` (0.5 for every label when none were tuned) and its out-of-domain cutoff with
:func:`stored_ood_cutoff`.

Example:

```python
>>> import numpy as np
>>> sigmoid(np.array([[0.0, 2.0]])).round(3).tolist()
[[0.5, 0.881]]
```"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from goemox.errors import GoEmoXError

__all__ = [
    "DEFAULT_THRESHOLD",
    "OOD_SCORES",
    "apply_thresholds",
    "has_stored_thresholds",
    "negative_energy",
    "ood_scores",
    "resolve_thresholds",
    "sigmoid",
    "stored_ood_cutoff",
    "stored_ood_score",
    "stored_thresholds",
    "uncalibrated_logits",
]

if TYPE_CHECKING:  # the ONNX runtime path reads configs without transformers
    from transformers import PretrainedConfig

DEFAULT_THRESHOLD = 0.5
"""The decision threshold of a label without a stored one."""
OOD_SCORES = ("max_probability", "negative_energy")
"""Scores an `ood_cutoff` can apply to; both are higher for texts more like the training domain."""


def sigmoid(logits) -> np.ndarray:
    """A numerically stable sigmoid, as float64.

    Args:
        logits: any array of logits.
    """
    z = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def negative_energy(logits) -> np.ndarray:
    """`-E(x) = sum_k softplus(z_k)` per row: the negative joint energy of a sigmoid classifier (higher = more
    evidence for some label).

    Args:
        logits: `(n, L)` logits `z`.
    """
    return np.logaddexp(0.0, np.asarray(logits, dtype=np.float64)).sum(axis=1)


def uncalibrated_logits(logits, config: PretrainedConfig | None) -> np.ndarray:
    """The logits before the calibration folded into a model: `(z - b) / a` per label for the config's `calibration`
    map (or `z * T` for an older `calibration_temperature`); the logits themselves when there is none.

    Out-of-domain scores are read from these: calibration is fitted for probabilities, and a per-label map reweights
    the labels' evidence (on the reference model Platt scaling takes the energy score's AUROC from 0.85 to 0.45).

    Args:
        logits: `(n, L)` logits as the model returns them.
        config: the model's config (`None`: no calibration).

    Example:
        >>> class Config: calibration = {"method": "platt", "slope": [2.0], "intercept": [1.0]}
        >>> uncalibrated_logits(np.array([[3.0]]), Config()).tolist()
        [[1.0]]
    """
    z = np.asarray(logits, dtype=np.float64)
    entry = getattr(config, "calibration", None)
    if entry:
        return (z - np.asarray(entry["intercept"], dtype=np.float64)) / np.asarray(entry["slope"], dtype=np.float64)
    temperature = getattr(config, "calibration_temperature", None)
    return z if temperature is None else z * np.asarray(temperature, dtype=np.float64)


def ood_scores(logits, score: str = "max_probability", config: PretrainedConfig | None = None) -> np.ndarray:
    """Per-text OOD score from logits, higher = more like the training domain.

    Args:
        logits: `(n, L)` logits `z`, as the model returns them.
        score: `max_probability` (`max_k sigmoid(z_k)`) or `negative_energy` (`sum_k softplus(z_k)`, the negative
            of the joint energy `E(x) = -sum_k log(1 + exp(z_k))` of a sigmoid classifier).
        config: the model's config: with a folded calibration, the scores are computed on the logits before it
            (:func:`uncalibrated_logits`), so a stored cutoff stays valid through calibration.

    Example:

    ```python
    >>> ood_scores(np.array([[0.0, 0.0]]), "negative_energy").round(3).tolist()
    [1.386]
    ```"""
    logits = uncalibrated_logits(logits, config)
    if score == "max_probability":
        return sigmoid(logits.max(axis=1))
    if score == "negative_energy":
        return negative_energy(logits)
    raise GoEmoXError(f"unknown OOD score {score!r}; expected one of {', '.join(OOD_SCORES)}")


def stored_thresholds(config: PretrainedConfig) -> list[float]:
    """The decision thresholds stored in a model config (`thresholds`), 0.5 for every label if none.

    Args:
        config: a goemox or native model config.

    Raises:
        GoEmoXError: when the stored list does not have one value per label, or a value outside (0, 1).
    """
    stored = getattr(config, "thresholds", None)
    if not stored:
        return [DEFAULT_THRESHOLD] * config.num_labels
    if not isinstance(stored, (list, tuple)) or len(stored) != config.num_labels:
        count = len(stored) if isinstance(stored, (list, tuple)) else "no list of"
        raise GoEmoXError(
            f"config.json: thresholds has {count} values but the model has {config.num_labels} labels; expected "
            "one threshold per label"
        )
    try:
        values = [float(t) for t in stored]
    except (TypeError, ValueError):
        raise GoEmoXError(f"config.json: thresholds {stored!r} are not all numbers") from None
    if not all(0.0 <= t <= 1.0 for t in values):
        raise GoEmoXError(f"config.json: thresholds must lie between 0 and 1, got {values}")
    return values


def has_stored_thresholds(config: PretrainedConfig) -> bool:
    """Whether the config stores tuned thresholds (rather than falling back to 0.5)."""
    return bool(getattr(config, "thresholds", None))


def stored_ood_cutoff(config: PretrainedConfig) -> float | None:
    """The cutoff below which a text counts as out of domain (config key `ood_cutoff`), if any."""
    stored = getattr(config, "ood_cutoff", None)
    return float(stored["cutoff"]) if stored else None


def stored_ood_score(config: PretrainedConfig) -> str:
    """The score a config's `ood_cutoff` applies to (its `score` key; `max_probability` when absent)."""
    stored = getattr(config, "ood_cutoff", None) or {}
    score = stored.get("score", "max_probability")
    if score not in OOD_SCORES:
        raise GoEmoXError(f"config.json: ood_cutoff score {score!r} is not one of {', '.join(OOD_SCORES)}")
    return score


def resolve_thresholds(thresholds: float | Sequence[float], n_labels: int) -> np.ndarray:
    """Broadcast a scalar threshold, or validate a per-label sequence, to shape ``(L,)``.

    Args:
        thresholds: One threshold for all labels, or one per label.
        n_labels: Number of labels ``L``.

    Returns:
        Float array of shape ``(n_labels,)``.

    Example:
        >>> resolve_thresholds(0.3, 2).tolist()
        [0.3, 0.3]
    """
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        return np.full(n_labels, float(t))
    if t.shape != (n_labels,):
        raise ValueError(f"expected a scalar or {n_labels} thresholds; got shape {t.shape}")
    return t


def apply_thresholds(
    probs: Any, thresholds: float | Sequence[float] = 0.5, ensure_top_label: bool = False
) -> np.ndarray:
    """Turn probabilities into 0/1 predictions (``prob >= threshold``).

    Args:
        probs: ``(n, L)`` probabilities.
        thresholds: One threshold for all labels, or one per label.
        ensure_top_label: If True, a row with no label at or above its threshold gets its argmax label.

    Returns:
        ``(n, L)`` int array of 0/1 predictions.

    Example:
        >>> apply_thresholds([[0.2, 0.4], [0.7, 0.1]], 0.5, ensure_top_label=True).tolist()
        [[0, 1], [1, 0]]
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be 2-D (n, L); got shape {p.shape}")
    pred = (p >= resolve_thresholds(thresholds, p.shape[1])).astype(np.int64)
    if ensure_top_label and p.shape[1] > 0:
        empty = pred.sum(axis=1) == 0
        pred[empty, p[empty].argmax(axis=1)] = 1
    return pred
