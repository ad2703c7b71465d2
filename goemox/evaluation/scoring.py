"""Evaluating a saved model on a labelled split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from goemox.data import label_matrix, load_emotion_dataset
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import SUMMARY_METRICS, multilabel_metrics
from goemox.inference.predictor import EmotionPredictor
from goemox.labels import LabelScheme
from goemox.scores import DEFAULT_THRESHOLD, has_stored_thresholds


@dataclass
class ScoredSplit:
    """A split's texts, true labels and the model's probabilities (rows in data order, columns in label order)."""

    split: str
    texts: list[str]
    y_true: np.ndarray
    probs: np.ndarray


def load_split(source: str | None, split: str, scheme: LabelScheme, **load_kwargs) -> Dataset:
    """One split of a data set, read with `scheme`.

    Args:
        source: any source `load_emotion_dataset` takes.
        split: which split.
        scheme: the label scheme the labels are read with.
        load_kwargs: passed to `load_emotion_dataset` (files, columns, separator, ...).

    Raises:
        GoEmoXUsageError: the data has no such split, or the split has no rows (a CSV with a header only, an empty
            JSONL file), naming the file it came from.

    Example:
        >>> len(load_split("demo", "test", get_label_scheme("ten")))  # doctest: +SKIP
        40
    """
    splits = load_emotion_dataset(source, scheme=scheme, **load_kwargs)
    if split not in splits:
        raise GoEmoXUsageError(f"the data has no {split!r} split; it has {sorted(splits)}")
    if len(splits[split]) == 0:
        origin = load_kwargs.get(f"{split}_file") or source
        raise GoEmoXUsageError(f"{origin}: the {split!r} split has no rows; expected at least one labelled text")
    return splits[split]


def score_split(
    classifier: EmotionPredictor,
    source: str | None,
    *,
    split: str = "test",
    scheme: str | None = None,
    show_progress: bool = True,
    **load_kwargs,
) -> ScoredSplit:
    """Load one split and predict its probabilities.

    Args:
        classifier: the loaded model.
        source: any source `load_emotion_dataset` takes.
        split: which split to score.
        scheme: label scheme of the data; defaults to the one stored with the model.
        show_progress: show a progress bar.
        load_kwargs: passed to `load_emotion_dataset` (files, columns, separator, ...).
    """
    data = load_split(source, split, classifier.label_scheme(scheme), **load_kwargs)
    probs = classifier.predict_proba(data["text"], show_progress=show_progress)
    return ScoredSplit(split=split, texts=list(data["text"]), y_true=label_matrix(data).astype(int), probs=probs)


def split_metrics(classifier: EmotionPredictor, scored: ScoredSplit) -> dict:
    """`{"split", "rows", "thresholds", "stored_thresholds": metrics, "fixed_0.5": metrics}` of a scored split.

    `stored_thresholds` holds the metrics at the model's thresholds, and `thresholds` says what those are:
    `"stored"` (tuned and saved with the model) or `"0.5 (none stored)"` (the model stores none, so the two sets
    of metrics agree).

    Args:
        classifier: the model that scored the split.
        scored: the split and its probabilities (see :func:`score_split`).

    Example:

    ```python
    >>> split_metrics(classifier, score_split(classifier, "demo"))["thresholds"]  # doctest: +SKIP
    'stored'
    ```"""
    names = classifier.label_names
    return {
        "split": scored.split,
        "rows": len(scored.texts),
        "thresholds": "stored" if has_stored_thresholds(classifier.config) else f"{DEFAULT_THRESHOLD} (none stored)",
        "stored_thresholds": multilabel_metrics(scored.y_true, scored.probs, names, classifier.thresholds),
        "fixed_0.5": multilabel_metrics(scored.y_true, scored.probs, names, 0.5),
    }


def evaluate_model(
    classifier: EmotionPredictor,
    source: str | None,
    *,
    split: str = "test",
    scheme: str | None = None,
    show_progress: bool = True,
    **load_kwargs,
) -> dict:
    """Metrics of a model on one split, at its stored thresholds and at 0.5: `score_split` (same arguments),
    then `split_metrics`."""
    scored = score_split(classifier, source, split=split, scheme=scheme, show_progress=show_progress, **load_kwargs)
    return split_metrics(classifier, scored)


def format_metrics_table(metrics: dict) -> str:
    """A plain-text table: the summary metrics, then precision / recall / F1 / support per class."""
    lines = [f"{key:<18}{metrics[key]:.4f}" if metrics[key] is not None else f"{key:<18}n/a" for key in SUMMARY_METRICS]
    lines.append("")
    lines.append(f"{'label':<16}{'threshold':>10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for label, row in metrics["per_class"].items():
        lines.append(
            f"{label:<16}{row['threshold']:>10.2f}{row['precision']:>10.3f}{row['recall']:>10.3f}"
            f"{row['f1']:>10.3f}{row['support']:>9d}"
        )
    return "\n".join(lines)
