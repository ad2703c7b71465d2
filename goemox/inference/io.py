"""Reading texts to classify and writing predictions, for `goemox predict`."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import TextIO

from goemox.errors import GoEmoXUsageError
from goemox.file_io import write_text_atomically
from goemox.inference.predictor import EmotionPrediction

OUTPUT_FORMATS = ("jsonl", "csv")
PREDICTION_COLUMNS = ("labels", "scores", "unfamiliar", "explanation")
"""The columns predict adds besides one `score_<label>` per label (before any `--prediction_prefix`)."""

logger = logging.getLogger(__name__)


def prediction_columns(label_names: Sequence[str], prefix: str = "") -> list[str]:
    """The columns `goemox predict` adds to each row: `labels`, `scores`, `unfamiliar`, `explanation` and one
    `score_<label>` per label, each behind `prefix` (JSONL output uses `scores`, CSV output the `score_<label>`
    columns).

    Args:
        label_names: the model's labels.
        prefix: put before every column name.

    Example:

    ```python
    >>> prediction_columns(["joy"], "pred_")
    ['pred_labels', 'pred_scores', 'pred_unfamiliar', 'pred_explanation', 'pred_score_joy']
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
    """Write each input row with its predictions added (see :func:`format_predictions`), atomically (temp file +
    rename). An input column named like an added column is refused (see :func:`check_prediction_columns`).

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
    label_names = list(predictions[0].scores) if predictions else []
    check_prediction_columns(rows, label_names, prefix, "the input rows")
    content = format_predictions(rows, predictions, fmt, label_separator, prefix)
    if path == "-":
        sys.stdout.write(content)
        return
    write_text_atomically(path, content)


def format_predictions(
    rows: Sequence[dict],
    predictions: Sequence[EmotionPrediction],
    fmt: str = "jsonl",
    label_separator: str = ";",
    prefix: str = "",
    header: bool = True,
) -> str:
    """The text of each input row with its predictions added.

    JSONL rows get `labels` (a list) and `scores` (label -> probability); CSV rows get `labels` joined by
    `label_separator` and one `score_<label>` column per label, under a header of :func:`input_columns` then
    :func:`csv_prediction_fields`. When the model stores an `ood_cutoff`, both also get `unfamiliar` (true when the
    text's highest probability falls below the cutoff). Predictions with an `explanation` (`--explain`) add it: in
    JSONL label -> list of `{word, start, end, attribution}`, in CSV the same as JSON text in one column. Every added
    column name starts with `prefix`.

    Args:
        rows: the input rows, in order.
        predictions: one per row.
        fmt: `jsonl` or `csv`.
        label_separator: between the labels of a CSV cell.
        prefix: put before the name of every column added.
        header: start CSV text with its header row.

    Example:

    ```python
    >>> pred = EmotionPrediction(labels=["joy"], scores={"joy": 0.9})
    >>> format_predictions([{"text": "yay"}], [pred], "csv")
    'text,labels,score_joy\\r\\nyay,joy,0.900000\\r\\n'
    ```"""
    if fmt not in OUTPUT_FORMATS:
        raise GoEmoXUsageError(f"output format must be one of {OUTPUT_FORMATS}, got {fmt!r}")
    labels, scores, unfamiliar, explanation = (prefix + column for column in PREDICTION_COLUMNS)
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row, pred in zip(rows, predictions):
            out = {**row, labels: pred.labels, scores: pred.scores}
            if pred.unfamiliar is not None:
                out[unfamiliar] = pred.unfamiliar
            if pred.explanation is not None:
                out[explanation] = explanation_record(pred)
            buffer.write(json.dumps(out, ensure_ascii=False) + "\n")
        return buffer.getvalue()
    extra, added = input_columns(rows), csv_prediction_fields(predictions, prefix)
    writer = csv_writer(buffer, extra + added)
    if header:
        writer.writeheader()
    for row, pred in zip(rows, predictions):
        out = {key: row.get(key) for key in extra}
        out[labels] = label_separator.join(pred.labels)
        if unfamiliar in added:
            out[unfamiliar] = str(pred.unfamiliar).lower()
        if explanation in added:
            out[explanation] = json.dumps(explanation_record(pred), ensure_ascii=False)
        out.update({f"{prefix}score_{n}": f"{s:.6f}" for n, s in pred.scores.items()})
        writer.writerow(out)
    return buffer.getvalue()


def explanation_record(prediction: EmotionPrediction) -> dict[str, list[dict]]:
    """A prediction's `explanation` as JSON-ready data: label -> `{word, start, end, attribution}` per word.

    Example:

    ```python
    >>> from goemox.inference.attribution import WordAttribution
    >>> pred = EmotionPrediction(["anger"], {"anger": 0.9}, explanation={"anger": [WordAttribution("mad", 0, 3, 1.5)]})
    >>> explanation_record(pred)
    {'anger': [{'word': 'mad', 'start': 0, 'end': 3, 'attribution': 1.5}]}
    ```"""
    return {label: [asdict(word) for word in words] for label, words in (prediction.explanation or {}).items()}


def input_columns(rows: Iterable[dict]) -> list[str]:
    """Every column of the rows, in the order they first appear (the input columns of CSV output).

    Example:

    ```python
    >>> input_columns([{"text": "a"}, {"id": 2, "text": "b"}])
    ['text', 'id']
    ```"""
    return list(dict.fromkeys(column for row in rows for column in row))


def csv_prediction_fields(predictions: Sequence[EmotionPrediction], prefix: str = "") -> list[str]:
    """The columns CSV output adds after the input columns: `labels`, `unfamiliar` (when the model stores an OOD
    cutoff), `explanation` (when the predictions carry one) and one `score_<label>` per label, each behind
    `prefix`.

    Args:
        predictions: the predictions written (the first one tells the labels and whether `unfamiliar` is set).
        prefix: put before every column name.

    Example:

    ```python
    >>> csv_prediction_fields([EmotionPrediction(labels=[], scores={"joy": 0.1})], "pred_")
    ['pred_labels', 'pred_score_joy']
    ```"""
    labels, _, unfamiliar, explanation = (prefix + column for column in PREDICTION_COLUMNS)
    if not predictions:
        return [labels]
    flagged = [unfamiliar] if predictions[0].unfamiliar is not None else []
    explained = [explanation] if predictions[0].explanation is not None else []
    return [labels, *flagged, *explained, *(f"{prefix}score_{name}" for name in predictions[0].scores)]


def csv_writer(stream: TextIO, fields: Sequence[str]) -> csv.DictWriter:
    """The writer of predict's CSV output (the `csv` module's default dialect), one row per dict.

    Args:
        stream: where the text goes.
        fields: the header, in order; a column a row lacks is left empty.

    Example:

    ```python
    >>> csv_writer(sys.stdout, ["text", "labels"]).writeheader()  # doctest: +SKIP
    ```"""
    return csv.DictWriter(stream, fieldnames=list(fields))
