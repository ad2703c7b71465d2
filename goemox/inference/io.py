"""Reading texts to classify and writing predictions, for `goemox predict`."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Sequence
from itertools import zip_longest
from pathlib import Path

from goemox.data.delimited import delimited_rows
from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionPrediction
from goemox.reporting.files import write_text_atomically

INPUT_FORMATS = ("txt", "csv", "tsv", "jsonl")
OUTPUT_FORMATS = ("jsonl", "csv")
PREDICTION_COLUMNS = ("labels", "scores", "unfamiliar")
"""The columns predict adds besides one `score_<label>` per label (before any `--prediction_prefix`)."""

logger = logging.getLogger(__name__)


def input_format(path: str, fmt: str | None) -> str:
    """The input format: given, or from the file extension (stdin defaults to txt)."""
    if fmt is not None:
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if path == "-" or suffix not in INPUT_FORMATS + ("json",):
        return "txt"
    return "jsonl" if suffix == "json" else suffix


def decode_utf8(raw: bytes, name: str) -> str:
    """The text of a file's bytes (a UTF-8 byte-order mark is dropped); an error names the first bad line.

    Args:
        raw: the file's content.
        name: what to call the file in the message.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise GoEmoXUsageError(f"{name}:{line}: bytes that are not UTF-8; expected UTF-8 text") from None


def read_inputs(path: str, text_column: str = "text", fmt: str | None = None) -> list[dict]:
    """Rows to classify, each a dict holding at least `text_column`; other columns are kept.

    TXT: one text per line (blank lines are skipped). CSV/TSV: a header row naming the columns.
    JSONL: one JSON object per line.

    Args:
        path: a file, or `-` for standard input.
        text_column: the column with the text (CSV/TSV/JSONL).
        fmt: `txt`, `csv`, `tsv` or `jsonl`; guessed from the extension if `None`.
    """
    name = "<stdin>" if path == "-" else path
    if path != "-" and not Path(path).is_file():
        raise GoEmoXUsageError(f"{name}: no such file")
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return parse_inputs(decode_utf8(raw, name), name, text_column, input_format(path, fmt))


def parse_inputs(content: str, name: str, text_column: str = "text", fmt: str = "txt") -> list[dict]:
    """Rows to classify from a file's text, checked as :func:`read_inputs` describes.

    Lines end at `\\n` (or `\\r\\n`) only: a line separator such as U+2028, U+0085 or a form feed is part of its text.

    Args:
        content: the decoded file.
        name: what to call the file in messages.
        text_column: the column with the text (CSV/TSV/JSONL).
        fmt: `txt`, `csv`, `tsv` or `jsonl`.

    Example:

    ```python
    >>> parse_inputs("id,text\\n7,hello\\n", "in.csv", fmt="csv")
    [{'id': '7', 'text': 'hello'}]
    ```"""
    if fmt == "txt":
        return _parse_txt(content, name, text_column)
    rows = _parse_jsonl(content, name) if fmt == "jsonl" else _parse_delimited(content, name, text_column, fmt)
    for number, row in rows:
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise GoEmoXUsageError(f"{name}:{number}: empty or missing {text_column!r}; expected a non-empty text")
    return [row for _, row in rows]


def _parse_txt(content: str, name: str, text_column: str) -> list[dict]:
    """One row per non-blank line; the blank lines skipped are counted in a log message."""
    lines = [line.strip() for line in content.split("\n")]
    if lines and not lines[-1]:
        lines.pop()  # the file's last newline ends a line rather than starting a blank one
    rows = [{text_column: line} for line in lines if line]
    if len(rows) < len(lines):
        logger.info("%s: skipped %d blank line(s)", name, len(lines) - len(rows))
    return rows


def _parse_jsonl(content: str, name: str) -> list[tuple[int, dict]]:
    """(line number, object) per non-blank line."""
    rows = []
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise GoEmoXUsageError(f"{name}:{number}: invalid JSON ({err.msg}); expected one object per line") from None
        if not isinstance(row, dict):
            raise GoEmoXUsageError(f"{name}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def _parse_delimited(content: str, name: str, text_column: str, fmt: str) -> list[tuple[int, dict]]:
    """(first line, row) per CSV/TSV row under the header (see :func:`goemox.data.delimited.delimited_rows`)."""
    header: list[str] | None = None
    rows = []
    for row in delimited_rows(io.StringIO(content, newline="").readlines(), "\t" if fmt == "tsv" else ","):
        if row.problem is not None:
            raise GoEmoXUsageError(f"{name}:{row.line}: {row.problem}; expected {row.expected}")
        if not row.cells:
            continue
        if header is None:
            header = row.cells
            if text_column not in header:
                raise GoEmoXUsageError(
                    f"{name}:{row.first}: no column {text_column!r}; the header has {header} "
                    "(choose one with --text_column)"
                )
            continue
        if len(row.cells) > len(header):
            raise GoEmoXUsageError(f"{name}:{row.first}: more cells than the header's {len(header)} columns")
        rows.append((row.first, {column: value for column, value in zip_longest(header, row.cells)}))
    if header is None:
        raise GoEmoXUsageError(
            f"{name}:1: no column {text_column!r}; the header has [] (choose one with --text_column)"
        )
    return rows


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
