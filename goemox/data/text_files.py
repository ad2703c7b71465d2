"""Reading texts to label from a file or standard input: TXT (one text per line; lines end at a line feed),
CSV/TSV with a header row, or JSONL; every other column of a row is kept. Errors name the file and the line."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import BinaryIO

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
    return list(iter_inputs(path, text_column, fmt))


def iter_inputs(path: str, text_column: str = "text", fmt: str | None = None) -> Iterator[dict]:
    """The rows of :func:`read_inputs` one at a time, read from the file as they are taken (a file larger than
    memory is never held whole); a bad line stops the iteration at that line with the same error.

    Args:
        path: a file, or `-` for standard input.
        text_column: the column with the text (CSV/TSV/JSONL).
        fmt: `txt`, `csv`, `tsv` or `jsonl`; guessed from the extension if `None`.

    Raises:
        GoEmoXUsageError: a missing file (at once), or the first bad line (when the iteration reaches it).

    Example:

    ```python
    >>> for row in iter_inputs("big.jsonl"):  # doctest: +SKIP
    ...     print(row["text"])
    ```"""
    name = "<stdin>" if path == "-" else path
    if path != "-" and not Path(path).is_file():
        raise GoEmoXUsageError(f"{name}: no such file")
    return _stream_rows(path, name, text_column, input_format(path, fmt))


def _stream_rows(path: str, name: str, text_column: str, fmt: str) -> Iterator[dict]:
    """The rows of a file or standard input, read line by line."""
    if path == "-":
        yield from _rows(_decoded_lines(sys.stdin.buffer, name), name, text_column, fmt)
        return
    with open(path, "rb") as stream:
        yield from _rows(_decoded_lines(stream, name), name, text_column, fmt)


def _decoded_lines(stream: BinaryIO, name: str) -> Iterator[str]:
    """The lines of a UTF-8 byte stream, split at `\\n` only and keeping their endings (a leading byte-order mark is
    dropped); an error names the first line that is not UTF-8."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise GoEmoXUsageError(f"{name}:{number}: bytes that are not UTF-8; expected UTF-8 text") from None


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
    return list(_rows(io.StringIO(content, newline="\n"), name, text_column, fmt))


def _rows(lines: Iterable[str], name: str, text_column: str, fmt: str) -> Iterator[dict]:
    """The checked rows of a file's lines (split at `\\n` only, with their endings)."""
    if fmt == "txt":
        yield from _parse_txt(lines, name, text_column)
        return
    rows = _parse_jsonl(lines, name) if fmt == "jsonl" else _parse_delimited(lines, name, text_column, fmt)
    for number, row in rows:
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise GoEmoXUsageError(f"{name}:{number}: empty or missing {text_column!r}; expected a non-empty text")
        yield row


def _parse_txt(lines: Iterable[str], name: str, text_column: str) -> Iterator[dict]:
    """One row per non-blank line; the blank lines skipped are counted in a log message at the end."""
    blank = 0
    for line in lines:
        text = line.strip()
        if text:
            yield {text_column: text}
        else:
            blank += 1
    if blank:
        logger.info("%s: skipped %d blank line(s)", name, blank)


def _parse_jsonl(lines: Iterable[str], name: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise GoEmoXUsageError(f"{name}:{number}: invalid JSON ({err.msg}); expected one object per line") from None
        if not isinstance(row, dict):
            raise GoEmoXUsageError(f"{name}:{number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def _universal_lines(lines: Iterable[str]) -> Iterator[str]:
    """Lines split at `\\n` further split at a lone `\\r`, as the `csv` module reads a file opened with `newline=""`."""
    for line in lines:
        if "\r" in line:
            yield from io.StringIO(line, newline="").readlines()
        else:
            yield line


def _parse_delimited(lines: Iterable[str], name: str, text_column: str, fmt: str) -> Iterator[tuple[int, dict]]:
    """(first line, row) per CSV/TSV row under the header (see :func:`goemox.data.delimited.delimited_rows`)."""
    header: list[str] | None = None
    for row in delimited_rows(_universal_lines(lines), "\t" if fmt == "tsv" else ","):
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
        yield row.first, {column: value for column, value in zip_longest(header, row.cells)}
    if header is None:
        raise GoEmoXUsageError(
            f"{name}:1: no column {text_column!r}; the header has [] (choose one with --text_column)"
        )
