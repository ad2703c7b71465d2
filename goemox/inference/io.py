"""Reading texts to classify and writing predictions, for `goemox predict`."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionPrediction
from goemox.reporting.files import write_text_atomically

INPUT_FORMATS = ("txt", "csv", "tsv", "jsonl")
OUTPUT_FORMATS = ("jsonl", "csv")


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

    Args:
        content: the decoded file.
        name: what to call the file in messages.
        text_column: the column with the text (CSV/TSV/JSONL).
        fmt: `txt`, `csv`, `tsv` or `jsonl`.
    """
    if fmt == "txt":
        return [{text_column: line.strip()} for line in content.splitlines() if line.strip()]
    rows: list[tuple[int, dict]] = []
    if fmt == "jsonl":
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise GoEmoXUsageError(
                    f"{name}:{number}: invalid JSON ({err.msg}); expected one object per line"
                ) from None
            if not isinstance(row, dict):
                raise GoEmoXUsageError(f"{name}:{number}: expected a JSON object, got {type(row).__name__}")
            rows.append((number, row))
    else:
        reader = csv.DictReader(io.StringIO(content), delimiter="\t" if fmt == "tsv" else ",")
        if reader.fieldnames is None or text_column not in reader.fieldnames:
            raise GoEmoXUsageError(
                f"{name}:1: no column {text_column!r}; the header has {reader.fieldnames or []} "
                "(choose one with --text_column)"
            )
        rows = [(reader.line_num, row) for row in reader]
        for number, row in rows:
            if None in row:
                raise GoEmoXUsageError(
                    f"{name}:{number}: more cells than the header's {len(reader.fieldnames)} columns"
                )
    for number, row in rows:
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise GoEmoXUsageError(f"{name}:{number}: empty or missing {text_column!r}; expected a non-empty text")
    return [row for _, row in rows]


def write_predictions(
    rows: Sequence[dict],
    predictions: Sequence[EmotionPrediction],
    path: str,
    fmt: str = "jsonl",
    label_separator: str = ";",
) -> None:
    """Write each input row with `labels` and per-label scores added, atomically (temp file + rename).

    JSONL rows get `labels` (a list) and `scores` (label -> probability); CSV rows get `labels` joined by
    `label_separator` and one `score_<label>` column per label. When the model stores an `ood_cutoff`, both
    also get `unfamiliar` (true when the text's highest probability falls below the cutoff).
    """
    if fmt not in OUTPUT_FORMATS:
        raise GoEmoXUsageError(f"output format must be one of {OUTPUT_FORMATS}, got {fmt!r}")
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row, pred in zip(rows, predictions):
            out = {**row, "labels": pred.labels, "scores": pred.scores}
            if pred.unfamiliar is not None:
                out["unfamiliar"] = pred.unfamiliar
            buffer.write(json.dumps(out, ensure_ascii=False) + "\n")
    else:
        label_names = list(predictions[0].scores) if predictions else []
        extra = [key for key in (rows[0] if rows else {}) if key not in ("labels",)]
        flagged = ["unfamiliar"] if predictions and predictions[0].unfamiliar is not None else []
        fields = extra + ["labels"] + flagged + [f"score_{n}" for n in label_names]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        for row, pred in zip(rows, predictions):
            out = {key: row.get(key) for key in extra}
            out["labels"] = label_separator.join(pred.labels)
            if flagged:
                out["unfamiliar"] = str(pred.unfamiliar).lower()
            out.update({f"score_{n}": f"{s:.6f}" for n, s in pred.scores.items()})
            writer.writerow(out)
    if path == "-":
        sys.stdout.write(buffer.getvalue())
        return
    write_text_atomically(path, buffer.getvalue())
