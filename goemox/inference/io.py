"""Reading texts to classify and writing predictions, for `goemox predict`."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Sequence

from goemox.errors import GoEmoXUsageError
from goemox.inference.predictor import EmotionPrediction
from goemox.reporting.files import write_text_atomically

OUTPUT_FORMATS = ("jsonl", "csv")
PREDICTION_COLUMNS = ("labels", "scores", "unfamiliar")
"""The columns predict adds besides one `score_<label>` per label (before any `--prediction_prefix`)."""

logger = logging.getLogger(__name__)


def prediction_columns(label_names: Sequence[str], prefix: str = "") -> list[str]:
    """The columns `goemox predict` adds to each row: `labels`, `scores`, `unfamiliar` and one `score_<label>` per
    label, each behind `prefix` (JSONL output uses `scores`, CSV output the `score_<label>` columns).

    Args:
        label_names: the model's labels.
        prefix: put before every column name.

    Example:

    ```python
    >>> prediction_columns(["joy"], "pred_")
    ['pred_labels', 'pred_scores', 'pred_unfamiliar', 'pred_score_joy']
    ```"""
    return [prefix + column for column in PREDICTION_COLUMNS] + [f"{prefix}score_{label}" for label in label_names]


def check_prediction_columns(rows: Sequence[dict], label_names: Sequence[str], prefix: str, name: str) -> None:
    """Refuse input rows with a column that a prediction column would replace.

    Args:
        rows: the input rows.
        label_names: the model's labels.
        prefix: the prefix of the prediction columns.
        name: what to call the input in the message.

    Raises:
        GoEmoXUsageError: naming the first colliding column and how to keep it.
    """
    taken = set(prediction_columns(label_names, prefix))
    for column in dict.fromkeys(column for row in rows for column in row):
        if column in taken:
            hint = "choose another --prediction_prefix" if prefix else "pass --prediction_prefix pred_"
            raise GoEmoXUsageError(
                f"{name}: the input column {column!r} would be replaced by a prediction column; {hint} to keep it"
            )


def write_predictions(
    rows: Sequence[dict],
    predictions: Sequence[EmotionPrediction],
    path: str,
    fmt: str = "jsonl",
    label_separator: str = ";",
    prefix: str = "",
) -> None:
    """Write each input row with its predictions added, atomically (temp file + rename).

    JSONL rows get `labels` (a list) and `scores` (label -> probability); CSV rows get `labels` joined by
    `label_separator` and one `score_<label>` column per label. When the model stores an `ood_cutoff`, both
    also get `unfamiliar` (true when the text's highest probability falls below the cutoff). Every added column
    name starts with `prefix`; an input column of the same name is refused (see :func:`check_prediction_columns`).

    Args:
        rows: the input rows, in order.
        predictions: one per row.
        path: the file to write; `-` for standard output.
        fmt: `jsonl` or `csv`.
        label_separator: between the labels of a CSV cell.
        prefix: put before the name of every column added.

    Example:

    ```python
    >>> write_predictions(rows, classifier.predict(texts), "out.csv", "csv", prefix="pred_")  # doctest: +SKIP
    ```"""
    if fmt not in OUTPUT_FORMATS:
        raise GoEmoXUsageError(f"output format must be one of {OUTPUT_FORMATS}, got {fmt!r}")
    label_names = list(predictions[0].scores) if predictions else []
    check_prediction_columns(rows, label_names, prefix, "the input rows")
    labels, scores, unfamiliar = (prefix + column for column in PREDICTION_COLUMNS)
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row, pred in zip(rows, predictions):
            out = {**row, labels: pred.labels, scores: pred.scores}
            if pred.unfamiliar is not None:
                out[unfamiliar] = pred.unfamiliar
            buffer.write(json.dumps(out, ensure_ascii=False) + "\n")
    else:
        extra = list(dict.fromkeys(column for row in rows for column in row))
        flagged = [unfamiliar] if predictions and predictions[0].unfamiliar is not None else []
        fields = extra + [labels] + flagged + [f"{prefix}score_{n}" for n in label_names]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        for row, pred in zip(rows, predictions):
            out = {key: row.get(key) for key in extra}
            out[labels] = label_separator.join(pred.labels)
            if flagged:
                out[unfamiliar] = str(pred.unfamiliar).lower()
            out.update({f"{prefix}score_{n}": f"{s:.6f}" for n, s in pred.scores.items()})
            writer.writerow(out)
    if path == "-":
        sys.stdout.write(buffer.getvalue())
        return
    write_text_atomically(path, buffer.getvalue())
