"""Reading texts to label from a file or standard input: TXT (one text per line; lines end at a line feed),
CSV/TSV with a header row, or JSONL; every other column of a row is kept. Errors name the file and the line."""

from __future__ import annotations

import io
import json
import logging
import sys
from itertools import zip_longest
from pathlib import Path

from goemox.data.delimited import delimited_rows
from goemox.errors import GoEmoXUsageError

logger = logging.getLogger(__name__)

INPUT_FORMATS = ("txt", "csv", "tsv", "jsonl")


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
