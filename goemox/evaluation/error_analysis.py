"""Error analysis of a scored split (`goemox evaluate --report DIR`): per-class metrics and thresholds, a multi-label
confusion matrix and the most confident errors of each class, as PNGs, report.md, analysis.json and errors.csv.

Multi-label confusion matrix: rows are true labels, columns predicted labels. Cell (i, j) is the share of the rows
that carry true label i whose predicted label set contains label j, so the diagonal is each label's recall and a row
can sum to more than 1 (a row may get several labels). An extra column counts the rows that got no label at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from goemox.evaluation.scoring import ScoredSplit
from goemox.scores import apply_thresholds

FALSE_POSITIVE = "false positive"
FALSE_NEGATIVE = "false negative"
REPORT_TEXT_CHARS = 300


def multilabel_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Counts behind the multi-label confusion matrix (see the module docstring).

    Args:
        y_true: `(rows, L)` 0/1 true labels.
        y_pred: `(rows, L)` 0/1 predictions.

    Returns:
        `counts` `(L, L)`: rows with true label i and predicted label j; `no_prediction` `(L,)`: rows with true
        label i and no predicted label; `support` `(L,)`: rows with true label i; `shares` `(L, L + 1)`: the counts
        and then `no_prediction`, divided by `support` (NaN for a label without rows).
    """
    truth = (np.asarray(y_true) > 0).astype(np.int64)
    predicted = (np.asarray(y_pred) > 0).astype(np.int64)
    counts = truth.T @ predicted
    no_prediction = truth[predicted.sum(axis=1) == 0].sum(axis=0)
    support = truth.sum(axis=0)
    both = np.column_stack([counts, no_prediction]).astype(float)
    shares = np.full_like(both, np.nan)
    np.divide(both, support[:, None], out=shares, where=support[:, None] > 0)
    return {"counts": counts, "no_prediction": no_prediction, "support": support, "shares": shares}


def confident_errors(
    scored: ScoredSplit, label_names: Sequence[str], thresholds: Sequence[float], per_class: int
) -> list[dict[str, Any]]:
    """The most confident mistakes of each class.

    For each label: its false positives with the highest probability and its false negatives with the lowest, at
    most `per_class` of each (ties: earlier rows first).

    Args:
        scored: the split with true labels and probabilities.
        label_names: the model's labels in column order.
        thresholds: one decision threshold per label.
        per_class: how many false positives and how many false negatives to keep per label.

    Returns:
        Dicts with `label`, `kind` ("false positive" / "false negative"), `rank` (1 = most confident), `row` (0-based
        position in the split), `score` (the label's probability), `threshold`, `text`, `true_labels` (label order)
        and `predicted_labels` (most probable first).
    """
    truth = np.asarray(scored.y_true) > 0
    predicted = apply_thresholds(scored.probs, list(thresholds)) > 0
    errors = []
    for j, label in enumerate(label_names):
        scores = scored.probs[:, j]
        false_positives = np.flatnonzero(predicted[:, j] & ~truth[:, j])
        false_negatives = np.flatnonzero(~predicted[:, j] & truth[:, j])
        chosen = (
            (FALSE_POSITIVE, false_positives[np.argsort(-scores[false_positives], kind="stable")][:per_class]),
            (FALSE_NEGATIVE, false_negatives[np.argsort(scores[false_negatives], kind="stable")][:per_class]),
        )
        for kind, rows in chosen:
            for rank, row in enumerate(rows, start=1):
                picked = sorted(np.flatnonzero(predicted[row]), key=lambda k: -scored.probs[row, k])
                errors.append(
                    {
                        "label": label,
                        "kind": kind,
                        "rank": rank,
                        "row": int(row),
                        "score": float(scores[row]),
                        "threshold": float(thresholds[j]),
                        "text": scored.texts[row],
                        "true_labels": [label_names[k] for k in np.flatnonzero(truth[row])],
                        "predicted_labels": [label_names[k] for k in picked],
                    }
                )
    return errors


def top_confusions(
    confusion: dict[str, np.ndarray], label_names: Sequence[str], n: int = 15
) -> list[tuple[str, str, float, int, int]]:
    """The `n` largest off-diagonal cells as `(true label, predicted label, share, rows, support)`."""
    counts, support = confusion["counts"], confusion["support"]
    cells = [
        (label_names[i], label_names[j], counts[i, j] / support[i], int(counts[i, j]), int(support[i]))
        for i in range(len(label_names))
        for j in range(len(label_names))
        if i != j and counts[i, j] > 0
    ]
    return sorted(cells, key=lambda cell: (-cell[2], -cell[3]))[:n]
