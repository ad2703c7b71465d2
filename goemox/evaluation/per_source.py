"""Scores of a run pooled from several corpora: each source on the labels it annotates, as multi-label and (for
single-label corpora) as argmax classification, the way such corpora are scored in the literature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from goemox.evaluation.label_bridge import single_label_scores
from goemox.evaluation.metrics import annotated_metrics


def single_label_metrics(y_true: np.ndarray, probs: np.ndarray, label_names: Sequence[str]) -> dict[str, Any]:
    """Argmax scoring of rows that hold exactly one label (:func:`~goemox.evaluation.label_bridge.single_label_scores`)
    as `metrics.json` keeps it: accuracy, macro-F1 over every label and per-label F1.

    Args:
        y_true: `(n, L)` 0/1 labels; rows without exactly one positive are left out (and counted).
        probs: `(n, L)` scores.
        label_names: the `L` labels.

    Example:

    ```python
    >>> scores = single_label_metrics(np.array([[1, 0], [0, 1]]), np.array([[0.6, 0.3], [0.7, 0.2]]), ["joy", "fear"])
    >>> scores["accuracy"]
    0.5
    ```"""
    names = list(label_names)
    if not (np.asarray(y_true).sum(axis=1) == 1).any():
        return {
            "rows": 0,
            "rows_left_out": len(y_true),
            "accuracy": 0.0,
            "macro_f1": 0.0,
            "per_label_f1": dict.fromkeys(names, 0.0),
        }
    scores = single_label_scores(y_true, probs, names)
    per_label = {name: scores["per_label"][name]["f1"] for name in names}
    return {
        "rows": scores["rows_scored"],
        "rows_left_out": scores["rows"] - scores["rows_scored"],
        "accuracy": scores["accuracy"],
        "macro_f1": float(np.mean(list(per_label.values()))),
        "per_label_f1": per_label,
    }


def source_metrics(
    y_true: np.ndarray,
    probs: np.ndarray,
    source_ids: np.ndarray,
    sources: Sequence[dict[str, Any]],
    label_names: Sequence[str],
    thresholds: Sequence[float],
) -> dict[str, dict[str, Any]]:
    """Each source's rows of a split, scored on the labels it annotates at 0.5 and at the run's thresholds.

    Args:
        y_true: `(n, L)` 0/1 labels of the pooled split.
        probs: `(n, L)` probabilities.
        source_ids: each row's source (its position in `sources`).
        sources: the run's sources (`name`, `annotates`, `single_label`), as in `metrics.json`.
        label_names: the `L` target labels.
        thresholds: the `L` thresholds of the run.

    Returns:
        source name -> `{"rows", "fixed_0.5", "tuned"}` (and `"single_label"` for single-label sources); sources
        without rows in this split are left out.

    Example:

    ```python
    >>> by_source = source_metrics(y, p, ids, metrics["sources"], labels, thresholds)  # doctest: +SKIP
    >>> by_source["carer"]["tuned"]["macro_f1"]  # doctest: +SKIP
    0.87
    ```"""
    out = {}
    for position, source in enumerate(sources):
        rows = np.asarray(source_ids) == position
        if not rows.any():
            continue
        columns = [label_names.index(name) for name in source["annotates"]]
        true, scores = y_true[rows][:, columns], probs[rows][:, columns]
        names, every = list(source["annotates"]), np.ones_like(true)  # every row of the source annotates them
        result = {
            "rows": int(rows.sum()),
            "fixed_0.5": annotated_metrics(true, scores, every, names, 0.5),
            "tuned": annotated_metrics(true, scores, every, names, [thresholds[c] for c in columns]),
        }
        if source.get("single_label"):
            result["single_label"] = single_label_metrics(true, scores, names)
        out[source["name"]] = result
    return out
