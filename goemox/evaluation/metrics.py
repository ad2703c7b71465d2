"""Multi-label classification metrics and decision-threshold tuning.

All functions take ``y_true`` as an ``(n, L)`` 0/1 indicator matrix and ``probs`` as an ``(n, L)``
matrix of per-label sigmoid probabilities. A label is predicted when ``prob >= threshold``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import (
    f1_score,
    roc_auc_score,
)

from goemox.errors import TrainingDivergedError
from goemox.scores import apply_thresholds, resolve_thresholds, sigmoid

if TYPE_CHECKING:
    from transformers import EvalPrediction


DEFAULT_GRID: np.ndarray = np.round(np.arange(0.05, 0.951, 0.01), 2)
"""Default threshold grid for tuning: 0.05, 0.06, ..., 0.95."""

_TIE_TOL = 1e-12
THRESHOLD_STRATEGIES = ("per_class", "global", "fixed")
"""How decision thresholds are chosen: one per label, one shared by all labels (both tuned on validation), or 0.5."""


SUMMARY_METRICS = (
    "macro_f1",
    "micro_f1",
    "samples_f1",
    "roc_auc_macro",
    "hamming_score",
    "jaccard_samples",
    "subset_accuracy",
)
"""The scalar metrics reported for every split (also the Trainer's evaluation metrics)."""


def _check_inputs(y_true: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``y_true`` / ``probs`` to ``(n, L)`` int and float arrays.

    Args:
        y_true: ``(n, L)`` array-like of 0/1 labels.
        probs: ``(n, L)`` array-like of probabilities.

    Returns:
        ``(y_true, probs)`` as ``int64`` and ``float64`` arrays.

    Example:
        >>> y, p = _check_inputs([[1, 0]], [[0.9, 0.2]])
        >>> y.dtype, p.shape
        (dtype('int64'), (1, 2))
    """
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if y.ndim != 2 or p.ndim != 2:
        raise ValueError(f"y_true and probs must be 2-D (n, L); got {y.shape} and {p.shape}")
    if y.shape != p.shape:
        raise ValueError(f"y_true shape {y.shape} does not match probs shape {p.shape}")
    if y.shape[0] == 0:
        raise ValueError("y_true and probs must contain at least one row")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must contain only 0/1 values")
    return y.astype(np.int64), p


def _resolve_grid(grid: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Return the tuning grid as a non-empty 1-D float array (``DEFAULT_GRID`` when ``None``).

    Args:
        grid: Candidate thresholds, or ``None`` for the default grid.

    Returns:
        1-D float array of candidate thresholds.

    Example:
        >>> _resolve_grid([0.2, 0.4]).tolist()
        [0.2, 0.4]
    """
    g = DEFAULT_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError("grid must be a non-empty 1-D sequence of thresholds")
    return g


def _best_index(scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of the best grid value along axis 0, breaking ties by closeness to 0.5.

    Args:
        scores: ``(G,)`` or ``(G, L)`` scores, one row per grid value.
        grid: ``(G,)`` candidate thresholds.

    Returns:
        Integer index (0-d array for 1-D ``scores``, ``(L,)`` otherwise). Exact ties in distance
        to 0.5 (e.g. 0.4 vs 0.6) go to the lower threshold.

    Example:
        >>> int(_best_index(np.array([1.0, 1.0, 0.5]), np.array([0.3, 0.45, 0.7])))
        1
    """
    is_best = scores >= scores.max(axis=0) - _TIE_TOL
    # Rank grid values by (distance to 0.5, threshold) so ties resolve deterministically.
    order = np.lexsort((grid, np.abs(grid - 0.5)))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    rank = rank.reshape((-1,) + (1,) * (scores.ndim - 1))
    return np.argmin(np.where(is_best, rank, order.size), axis=0)


def _per_class_f1_grid(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per-class F1 for every grid threshold, vectorised over labels.

    Equivalent to ``f1_score(y_true, probs >= t, average=None, zero_division=0)`` for each ``t``;
    computed from confusion counts because calling scikit-learn once per grid value is too slow
    for tuning on thousands of rows.

    Args:
        y_true: ``(n, L)`` 0/1 int array.
        probs: ``(n, L)`` float array.
        grid: ``(G,)`` thresholds.

    Returns:
        ``(G, L)`` array of F1 scores.

    Example:
        >>> _per_class_f1_grid(np.array([[1], [0]]), np.array([[0.8], [0.3]]), np.array([0.5])).tolist()
        [[1.0]]
    """
    positives = y_true.sum(axis=0)
    y_bool = y_true.astype(bool)
    f1 = np.zeros((grid.size, y_true.shape[1]))
    for i, t in enumerate(grid):
        pred = probs >= t
        tp = (pred & y_bool).sum(axis=0)
        denom = pred.sum(axis=0) + positives  # 2*TP + FP + FN
        np.divide(2.0 * tp, denom, out=f1[i], where=denom > 0)
    return f1


def multilabel_metrics(
    y_true: Any,
    probs: Any,
    label_names: Sequence[str],
    thresholds: float | Sequence[float] = 0.5,
) -> dict[str, Any]:
    """Compute multi-label metrics at the given decision thresholds.

    Keys: ``macro_f1``, ``micro_f1``, ``samples_f1`` (zero_division=0); ``roc_auc_macro`` (mean
    ROC-AUC over labels with both positives and negatives in ``y_true``, ``None`` if there are none)
    and ``roc_auc_labels_skipped``; ``hamming_score`` = 1 - Hamming loss, i.e. the share of the
    ``n * L`` individual label decisions that are correct; ``jaccard_samples`` (mean per-row
    intersection-over-union); ``subset_accuracy`` (share of rows whose whole label set is exact);
    ``label_cardinality_pred`` (mean labels predicted per row); ``rows_without_prediction`` (share
    of rows with no predicted label); ``per_class`` (label -> precision, recall, f1, support =
    number of true positives in ``y_true``, threshold); ``thresholds`` (per-label list).

    Args:
        y_true: ``(n, L)`` 0/1 labels.
        probs: ``(n, L)`` sigmoid probabilities.
        label_names: ``L`` label names.
        thresholds: One threshold for all labels, or one per label.

    Returns:
        JSON-serialisable dict (plain Python floats, ints, lists, dicts and ``None``).

    Example:
        >>> m = multilabel_metrics([[1, 0], [0, 1]], [[0.9, 0.2], [0.4, 0.6]], ["joy", "anger"])
        >>> m["macro_f1"], m["subset_accuracy"]
        (1.0, 1.0)
    """
    y, p = _check_inputs(y_true, probs)
    metrics = annotated_metrics(y, p, np.ones_like(y), label_names, thresholds)
    for scores in metrics["per_class"].values():
        del scores["annotated_rows"]  # every row annotates every label here
    return metrics


def tune_global_threshold(y_true: Any, probs: Any, grid: Sequence[float] | np.ndarray | None = None) -> float:
    """Find the single threshold (shared by all labels) that maximises macro-F1.

    Ties go to the threshold closest to 0.5. Tune on validation data only.

    Args:
        y_true: ``(n, L)`` 0/1 labels.
        probs: ``(n, L)`` probabilities.
        grid: Candidate thresholds; default ``DEFAULT_GRID`` (0.05 to 0.95 in steps of 0.01).

    Returns:
        The chosen threshold.

    Example:
        >>> tune_global_threshold([[1, 0], [0, 1]], [[0.3, 0.1], [0.2, 0.35]], grid=[0.25, 0.5])
        0.25
    """
    y, p = _check_inputs(y_true, probs)
    g = _resolve_grid(grid)
    macro = _per_class_f1_grid(y, p, g).mean(axis=1)
    return float(g[_best_index(macro, g)])


def tune_per_class_thresholds(y_true: Any, probs: Any, grid: Sequence[float] | np.ndarray | None = None) -> list[float]:
    """Find, for each label, the threshold that maximises that label's F1.

    Labels with no positives in ``y_true`` keep 0.5; ties go to the threshold closest to 0.5.
    Vectorised over labels (a 5000 x 28 matrix takes a few milliseconds). Tune on validation only.

    Args:
        y_true: ``(n, L)`` 0/1 labels.
        probs: ``(n, L)`` probabilities.
        grid: Candidate thresholds; default ``DEFAULT_GRID`` (0.05 to 0.95 in steps of 0.01).

    Returns:
        ``L`` thresholds as plain floats.

    Example:
        >>> tune_per_class_thresholds([[1, 0], [0, 0]], [[0.3, 0.9], [0.1, 0.2]], grid=[0.2, 0.5])
        [0.2, 0.5]
    """
    y, p = _check_inputs(y_true, probs)
    g = _resolve_grid(grid)
    best = g[_best_index(_per_class_f1_grid(y, p, g), g)]
    best = np.where(y.sum(axis=0) > 0, best, 0.5)
    return [float(x) for x in best]


def threshold_report(
    y_true: Any, probs: Any, label_names: Sequence[str], mask: Any = None
) -> dict[str, dict[str, Any]]:
    """Compare metrics at 0.5, at a tuned global threshold and at tuned per-class thresholds.

    Thresholds are tuned on the data passed in, so scores here are optimistic. Tune on the
    validation split only, then apply the chosen thresholds (``report["global_threshold"]["threshold"]`` or
    ``report["per_class_thresholds"]["thresholds"]``) to the test split with :func:`multilabel_metrics`.

    Args:
        y_true: ``(n, L)`` 0/1 labels (validation split).
        probs: ``(n, L)`` probabilities (validation split).
        label_names: ``L`` label names.
        mask: ``(n, L)`` 0/1 matrix of the annotated pairs (several corpora): thresholds tuned and metrics
            computed over them (:func:`annotated_metrics`); ``None``: every pair.

    Returns:
        ``{"fixed_0.5": m, "global_threshold": {**m, "threshold": t}, "per_class_thresholds": m}`` where each
        ``m`` is a :func:`multilabel_metrics` dict (its ``per_class`` entry holds the per-label scores).

    Example:
        >>> r = threshold_report([[1, 0], [0, 1]], [[0.3, 0.1], [0.2, 0.35]], ["joy", "anger"])
        >>> r["fixed_0.5"]["macro_f1"], r["per_class_thresholds"]["macro_f1"]
        (0.0, 1.0)
    """

    def scores(thresholds):
        if mask is None:
            return multilabel_metrics(y_true, probs, label_names, thresholds)
        return annotated_metrics(y_true, probs, mask, label_names, thresholds)

    global_t = tune_thresholds(y_true, probs, "global", mask=mask)
    per_class_t = tune_thresholds(y_true, probs, "per_class", mask=mask)
    return {
        "fixed_0.5": scores(0.5),
        "global_threshold": {**scores(global_t), "threshold": global_t[0]},
        "per_class_thresholds": scores(per_class_t),
    }


def tune_thresholds(
    y_true: Any,
    probs: Any,
    strategy: str,
    grids: Sequence[Sequence[float] | np.ndarray] | None = None,
    mask: Any = None,
) -> list[float]:
    """The thresholds a strategy picks on (validation) data: the one rule `goemox train` and `goemox calibrate`
    share.

    Args:
        y_true: ``(n, L)`` 0/1 labels.
        probs: ``(n, L)`` probabilities.
        strategy: ``per_class`` (each label's best F1), ``global`` (one threshold, best macro-F1) or ``fixed`` (0.5).
        grids: one candidate grid per label (default: :data:`DEFAULT_GRID` for every label); ``global`` searches
            their union.
        mask: ``(n, L)`` 0/1 matrix of the annotated pairs (several corpora): each label is tuned on the rows that
            annotate it (``global``: macro-F1 over labels, each on its annotating rows); a label no row annotates
            keeps 0.5. ``None``: every row.

    Example:
        >>> tune_thresholds([[1, 0], [0, 1]], [[0.3, 0.1], [0.2, 0.35]], "fixed")
        [0.5, 0.5]
    """
    if strategy not in THRESHOLD_STRATEGIES:
        raise ValueError(f"threshold strategy must be one of {THRESHOLD_STRATEGIES}, got {strategy!r}")
    y, p = _check_inputs(y_true, probs)
    count = y.shape[1]
    if strategy == "fixed":
        return [0.5] * count
    grids = [DEFAULT_GRID] * count if grids is None else list(grids)
    rows = [slice(None)] * count if mask is None else [np.asarray(mask)[:, c] > 0 for c in range(count)]
    if strategy == "per_class":
        return [
            tune_per_class_thresholds(y[rows[c]][:, [c]], p[rows[c]][:, [c]], grids[c])[0] if np.any(rows[c]) else 0.5
            for c in range(count)
        ]
    union = np.unique(np.concatenate([np.asarray(g, dtype=np.float64) for g in grids]))
    if mask is None:
        return [tune_global_threshold(y, p, union)] * count
    annotated = [c for c in range(count) if np.any(rows[c])]
    per_label = [_per_class_f1_grid(y[rows[c]][:, [c]], p[rows[c]][:, [c]], union)[:, 0] for c in annotated]
    return [float(union[_best_index(np.mean(per_label, axis=0), union)])] * count


def annotated_metrics(
    y_true: Any,
    probs: Any,
    mask: Any,
    label_names: Sequence[str],
    thresholds: float | Sequence[float] = 0.5,
) -> dict[str, Any]:
    """:func:`multilabel_metrics` over the annotated (row, label) pairs only, for data pooled from corpora that
    annotate different labels.

    Each label is scored on the rows that annotate it (``per_class`` adds ``annotated_rows``); ``macro_f1`` and
    ``roc_auc_macro`` average over labels with at least one annotating row; ``micro_f1`` and ``hamming_score`` count
    annotated pairs; the per-row figures (``samples_f1``, ``jaccard_samples``, ``subset_accuracy``, predicted
    cardinality) look at each row's annotated labels. :func:`multilabel_metrics` is this with every pair annotated.

    Args:
        y_true: ``(n, L)`` 0/1 labels.
        probs: ``(n, L)`` probabilities.
        mask: ``(n, L)`` 0/1 matrix of the annotated pairs.
        label_names: ``L`` label names.
        thresholds: one threshold for all labels, or one per label.

    Example:
        >>> m = annotated_metrics([[1, 0], [0, 1]], [[0.9, 0.9], [0.4, 0.6]], [[1, 0], [1, 1]], ["joy", "anger"])
        >>> m["macro_f1"], m["per_class"]["anger"]["annotated_rows"]
        (1.0, 1)
    """
    y, p = _check_inputs(y_true, probs)
    m = np.asarray(mask, dtype=bool)
    if m.shape != y.shape:
        raise ValueError(f"mask has shape {m.shape}, labels {y.shape}")
    names = [str(name) for name in label_names]
    if len(names) != y.shape[1]:
        raise ValueError(f"got {len(names)} label names for {y.shape[1]} label columns")
    t = resolve_thresholds(thresholds, y.shape[1])
    pred = apply_thresholds(p, t).astype(bool) & m
    true = y.astype(bool) & m
    tp, fp, fn = (pred & true).sum(axis=0), (pred & ~true).sum(axis=0), (~pred & true).sum(axis=0)
    annotated_rows = m.sum(axis=0)
    precision = np.divide(tp, tp + fp, out=np.zeros(len(names)), where=tp + fp > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros(len(names)), where=tp + fn > 0)
    f1 = np.divide(2.0 * tp, 2 * tp + fp + fn, out=np.zeros(len(names)), where=2 * tp + fp + fn > 0)
    scored = annotated_rows > 0
    support = true.sum(axis=0)
    has_both = scored & (support > 0) & (support < annotated_rows)
    aucs = [roc_auc_score(y[m[:, j], j], p[m[:, j], j]) for j in np.flatnonzero(has_both)]
    row_tp, row_pred, row_true = (pred & true).sum(axis=1), pred.sum(axis=1), true.sum(axis=1)
    row_union = (pred | true).sum(axis=1)
    samples_f1 = np.divide(2.0 * row_tp, row_pred + row_true, out=np.zeros(len(y)), where=row_pred + row_true > 0)
    jaccard = np.divide(row_tp, row_union, out=np.zeros(len(y)), where=row_union > 0)
    wrong = (pred != true).sum()
    return {
        "macro_f1": float(f1[scored].mean()) if scored.any() else 0.0,
        "micro_f1": float(2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)),
        "samples_f1": float(samples_f1.mean()),
        "roc_auc_macro": float(np.mean(aucs)) if aucs else None,
        "roc_auc_labels_skipped": [names[j] for j in np.flatnonzero(~has_both)],
        "hamming_score": float(1.0 - wrong / max(m.sum(), 1)),
        "jaccard_samples": float(jaccard.mean()),
        "subset_accuracy": float(np.mean((pred == true).all(axis=1))),
        "label_cardinality_pred": float(row_pred.mean()),
        "rows_without_prediction": float(np.mean(row_pred == 0)),
        "per_class": {
            name: {
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "f1": float(f1[j]),
                "support": int(support[j]),
                "threshold": float(t[j]),
                "annotated_rows": int(annotated_rows[j]),
            }
            for j, name in enumerate(names)
        },
        "thresholds": [float(x) for x in t],
    }


def check_finite_logits(logits: np.ndarray) -> np.ndarray:
    """Refuse, in one line, the NaN or infinite scores of a model whose training diverged; return `logits`.

    Args:
        logits: a trained model's scores, ``(n, L)``.

    Raises:
        TrainingDivergedError: when a score is NaN or infinite (a learning rate far too high, for instance).

    Example:
        >>> check_finite_logits(np.array([[2.0, -1.0]])).shape
        (1, 2)
    """
    if not np.isfinite(logits).all():
        raise TrainingDivergedError(
            "the model's scores are NaN or infinite, so its training diverged; try a lower --learning_rate"
        )
    return logits


def make_compute_metrics(
    label_names: Sequence[str], source_names: Sequence[str] | None = None
) -> Callable[[EvalPrediction], dict[str, float]]:
    """Build a ``compute_metrics`` function for the Hugging Face ``Trainer``.

    The returned function applies a numerically stable sigmoid to the logits (the first element
    if they arrive as a tuple), binarises ``label_ids`` at 0.5, and returns flat scalar metrics at
    threshold 0.5: ``macro_f1``, ``micro_f1``, ``samples_f1``, ``roc_auc_macro`` (NaN when no
    label has both classes), ``hamming_score``, ``jaccard_samples``, ``subset_accuracy``. It also
    returns ``macro_f1_tuned``: macro-F1 with per-class thresholds tuned on these same predictions.
    That value is optimistic (tuned and scored on the same data) and only meant for monitoring;
    do not report it as a held-out result.

    For several corpora the ``label_ids`` are ``(labels, label_mask, source_id)``: the figures are
    :func:`annotated_metrics` of the pooled rows, and ``macro_f1_<source>`` adds each source's macro-F1 on the
    labels it annotates.

    Args:
        label_names: ``L`` label names, in logit column order.
        source_names: the run's sources, in ``source_id`` order (several corpora only).

    Returns:
        A callable mapping an ``EvalPrediction`` to a dict of floats.

    Example:
        >>> from transformers import EvalPrediction
        >>> fn = make_compute_metrics(["joy", "anger"])
        >>> pred = EvalPrediction(predictions=(np.array([[3.0, -3.0]]),), label_ids=np.array([[1, 0]]))
        >>> fn(pred)["macro_f1"]
        0.5
    """
    names = list(label_names)
    flat_keys = SUMMARY_METRICS

    def compute_metrics(eval_pred: EvalPrediction) -> dict[str, float]:
        logits = eval_pred.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        probs = sigmoid(check_finite_logits(logits))
        label_ids, mask, sources = eval_pred.label_ids, None, None
        if isinstance(label_ids, (tuple, list)):
            label_ids, mask, sources = label_ids
        y_true = (np.asarray(label_ids, dtype=np.float64) >= 0.5).astype(np.int64)
        if mask is None:
            metrics = multilabel_metrics(y_true, probs, names, 0.5)
            tuned_t = tune_per_class_thresholds(y_true, probs)
            tuned = float(f1_score(y_true, apply_thresholds(probs, tuned_t), average="macro", zero_division=0))
        else:
            metrics = annotated_metrics(y_true, probs, mask, names, 0.5)
            tuned_t = tune_thresholds(y_true, probs, "per_class", mask=mask)
            tuned = annotated_metrics(y_true, probs, mask, names, tuned_t)["macro_f1"]
        out = {key: (float("nan") if metrics[key] is None else metrics[key]) for key in flat_keys}
        out["macro_f1_tuned"] = tuned
        if mask is not None and source_names:
            sources = np.asarray(sources).reshape(-1)
            for position, source in enumerate(source_names):
                rows = sources == position
                if rows.any():
                    out[f"macro_f1_{source}"] = annotated_metrics(
                        y_true[rows], probs[rows], np.asarray(mask)[rows], names, 0.5
                    )["macro_f1"]
        return out

    return compute_metrics
