"""Reading labelled rows from files (CSV/TSV with a header, JSONL, a JSON array, GoEmotions TSV) and Arrow data.

Each row is checked as it is read; a bad row becomes a :class:`~goemox.errors.DataError` naming the file, the line and
what was expected, or (``on_bad_rows="skip"``) a count in the :class:`LoadReport`.
"""

from __future__ import annotations

import json
import logging
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
from datasets import Dataset, Features, Value

from goemox.data.delimited import delimited_rows
from goemox.errors import DataError, UnknownLabelError
from goemox.labels import LabelScheme

logger = logging.getLogger(__name__)

FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json"}


GOEMOTIONS_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}


_INTEGER = re.compile(r"[+-]?\d+")


_GOEMOTIONS_ROW = "3 tab-separated fields: text, comma-separated label ids, comment id"


@dataclass
class LoadReport:
    """What :func:`load_emotion_dataset` read, skipped and dropped.

    Skip reasons: ``undecodable_bytes``, ``invalid_json``, ``malformed_row`` (wrong number of fields,
    not a JSON object), ``missing_field``, ``invalid_text``, ``empty_text``, ``unknown_label``,
    ``label_id_out_of_range``, ``invalid_labels`` (unparsable cell, repeated id, multi-hot vector of
    the wrong length or with values outside [0, 1]).

    Attributes:
        sources: Split -> where its rows were read from.
        num_rows: Split -> number of rows returned.
        skipped: Split it was read as -> skip reason -> number of rows skipped (``on_bad_rows="skip"``).
        first_errors: Skip reason -> the error message of the first row skipped for it.
        dropped_empty: Split it was read as -> rows dropped for having no label (``empty_rows="drop"``).
        created_splits: Splits carved out of the training data by a stratified split.
        duplicates_dropped: Exact duplicate training rows (same text and labels) dropped before that split.
        label_counts: Label name as the data writes it (ids resolved to names) -> rows naming it, before mapping.
    """

    sources: dict[str, str] = field(default_factory=dict)
    num_rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)
    dropped_empty: dict[str, int] = field(default_factory=dict)
    created_splits: tuple[str, ...] = ()
    duplicates_dropped: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)

    @property
    def num_skipped(self) -> int:
        """Total number of bad rows skipped."""
        return sum(sum(reasons.values()) for reasons in self.skipped.values())

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        """Skip reason -> number of rows skipped, over all splits."""
        totals: dict[str, int] = {}
        for reasons in self.skipped.values():
            for reason, count in reasons.items():
                totals[reason] = totals.get(reason, 0) + count
        return totals


class BadRow(Exception):
    """A problem with one row; becomes a DataError or a skip."""

    def __init__(self, reason: str, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.reason = reason
        self.problem = problem
        self.expected = expected


@dataclass(frozen=True)
class ReadOptions:
    scheme: LabelScheme
    text_column: str
    label_column: str
    label_separator: str
    on_bad_rows: str
    empty_rows: str


class LabelEncoder:
    """Turns one label cell into a multi-hot vector of the scheme's labels."""

    def __init__(
        self,
        scheme: LabelScheme,
        separator: str,
        class_names: Sequence[str] | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.scheme = scheme
        self.counts = counts if counts is not None else {}
        self.separator = separator
        self.id_names = tuple(class_names) if class_names is not None else scheme.source_labels
        self.id_space = "ClassLabel names" if class_names is not None else f"source labels of {scheme.name!r}"
        self.known = set(scheme.known_names)
        self.index = scheme.label2id

    def __call__(self, cell: Any) -> list[float]:
        if isinstance(cell, str):
            cell = self._split(cell)
        elif isinstance(cell, int) and not isinstance(cell, bool):
            cell = [cell]
        if not isinstance(cell, (list, tuple)):
            raise BadRow("invalid_labels", f"label cell is {cell!r}", self._expected())
        if any(isinstance(value, (float, bool)) for value in cell):
            return self._multi_hot(cell)
        self._check_repeated_ids(cell)
        names = [self._name(token) for token in cell]
        try:
            targets = self.scheme.map_names(names)
            for name in set(names):
                self.counts[name] = self.counts.get(name, 0) + 1
        except UnknownLabelError as err:
            raise BadRow(
                "unknown_label",
                f"label {err.label!r} is not part of label scheme {self.scheme.name!r}",
                f"one of {', '.join(self.scheme.known_names)}",
            ) from None
        vector = [0.0] * self.scheme.num_labels
        for target in targets:
            vector[self.index[target]] = 1.0
        return vector

    def _expected(self) -> str:
        return (
            f"label names or ids separated by {self.separator!r}, a JSON list of them, or a multi-hot list "
            f"of {self.scheme.num_labels} floats"
        )

    def _split(self, cell: str) -> list[Any]:
        text = cell.strip()
        if not text.startswith("["):
            return [token.strip() for token in text.split(self.separator) if token.strip()]
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as err:
            raise BadRow(
                "invalid_labels", f"label cell {cell!r} is not a valid JSON list ({err.msg})", self._expected()
            ) from None
        if not isinstance(parsed, list):
            raise BadRow("invalid_labels", f"label cell {cell!r} is not a JSON list", self._expected())
        return parsed

    def _name(self, token: Any) -> str:
        if isinstance(token, str):
            token = token.strip()
            if token in self.known:
                return token
            if not _INTEGER.fullmatch(token):
                raise BadRow(
                    "unknown_label",
                    f"unknown label {token!r}",
                    f"a label of scheme {self.scheme.name!r} ({', '.join(self.scheme.known_names)}) or an integer id",
                )
            token = int(token)
        if not isinstance(token, int) or isinstance(token, bool):
            raise BadRow("invalid_labels", f"label {token!r} is neither a name nor an id", self._expected())
        if not 0 <= token < len(self.id_names):
            raise BadRow(
                "label_id_out_of_range",
                f"label id {token} is out of range",
                f"an id in 0..{len(self.id_names) - 1} ({self.id_space})",
            )
        return self.id_names[token]

    def _multi_hot(self, cell: Sequence[Any]) -> list[float]:
        size = self.scheme.num_labels
        if len(cell) != size:
            raise BadRow(
                "invalid_labels",
                f"multi-hot label vector has {len(cell)} values",
                f"{size} values, one per label of scheme {self.scheme.name!r}",
            )
        if not all(isinstance(value, (int, float)) and 0.0 <= value <= 1.0 for value in cell):
            raise BadRow(
                "invalid_labels",
                f"multi-hot label vector {list(cell)} has values outside [0, 1]",
                "numbers between 0 and 1",
            )
        return [float(value) for value in cell]

    @staticmethod
    def _check_repeated_ids(cell: Sequence[Any]) -> None:
        """Reject an integer id given twice: almost always a multi-hot vector written with integers."""
        ids = [value for value in cell if isinstance(value, int)]
        repeated = sorted({value for value in ids if ids.count(value) > 1})
        if repeated:
            raise BadRow(
                "invalid_labels",
                f"label id {repeated[0]} is repeated in {list(cell)}",
                "distinct label ids (write a multi-hot vector with floats, e.g. 1.0)",
            )


def _roles(options: ReadOptions) -> tuple[str, str]:
    return options.text_column, options.label_column


def _check_extra_names(source: str, options: ReadOptions, names: Sequence[str], line: int | None) -> None:
    """Refuse extra columns that would collide with the ``text`` / ``labels`` output columns."""
    for name in ("text", "labels"):
        if name in names:
            raise DataError(
                source,
                line,
                f"column {name!r} is neither the text column {options.text_column!r} nor the label column "
                f"{options.label_column!r}, and would clash with the output column {name!r}",
                f"no other column named {name!r} (rename it, or select it with text_column/label_column)",
            )


class SplitCollector:
    """Validates the rows of one split and gathers the columns of the resulting Dataset."""

    def __init__(
        self,
        split: str,
        source: str,
        options: ReadOptions,
        report: LoadReport,
        *,
        label_separator: str | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.split = split
        self.source = source
        self.options = options
        self.report = report
        self.encode = LabelEncoder(
            options.scheme, label_separator or options.label_separator, class_names, counts=report.label_counts
        )
        self.texts: list[str] = []
        self.labels: list[list[float]] = []
        self.extras: list[dict[str, Any]] = []
        self.extra_names: dict[str, None] = {}
        report.sources[split] = source

    def reject(self, line: int | None, bad: BadRow) -> None:
        error = DataError(self.source, line, bad.problem, bad.expected)
        if self.options.on_bad_rows == "error":
            raise error
        logger.debug("Skipping row: %s", error)
        counts = self.report.skipped.setdefault(self.split, {})
        counts[bad.reason] = counts.get(bad.reason, 0) + 1
        self.report.first_errors.setdefault(bad.reason, str(error))

    def add(self, line: int, text: Any, cell: Any, extras: dict[str, Any] | None = None) -> bool:
        """Validate and append one row; return whether it was kept."""
        try:
            if not isinstance(text, str):
                raise BadRow("invalid_text", f"text is {text!r}, not a string", "a non-empty string")
            if not text.strip():
                raise BadRow("empty_text", f"text {text!r} is empty or only whitespace", "a non-empty text")
            vector = self.encode(cell)
        except BadRow as bad:
            self.reject(line, bad)
            return False
        if self.options.empty_rows == "drop" and not any(vector):
            self.report.dropped_empty[self.split] = self.report.dropped_empty.get(self.split, 0) + 1
            return False
        self.texts.append(text)
        self.labels.append(vector)
        if extras is not None:
            self.extras.append(extras)
        return True

    def declare_extras(self, names: Sequence[str], line: int | None) -> None:
        """Register the extra columns of the input (kept in the output after ``text`` and ``labels``)."""
        _check_extra_names(self.source, self.options, names, line)
        self.extra_names.update(dict.fromkeys(names))

    def build(self) -> Dataset:
        """The collected rows as a Dataset (text, labels, then the extra columns)."""
        self._log()
        features = {"text": Value("string"), "labels": datasets.Sequence(Value("float32"))}
        columns: dict[str, list[Any]] = {"text": self.texts, "labels": self.labels}
        if self.extra_names:
            extra = {name: [row.get(name) for row in self.extras] for name in self.extra_names}
            try:
                features.update(Dataset.from_dict(extra).features)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
                raise DataError(
                    self.source, None, f"a column mixes value types ({err})", "one value type per column"
                ) from err
            columns.update(extra)
        return Dataset.from_dict(columns, features=Features(features))

    def _log(self) -> None:
        skipped = self.report.skipped.get(self.split)
        if skipped:
            details = ", ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items()))
            logger.warning("Skipped %d bad row(s) of %s (%s)", sum(skipped.values()), self.source, details)
        dropped = self.report.dropped_empty.get(self.split)
        if dropped:
            logger.info(
                "Dropped %d row(s) without any %r label from %s", dropped, self.options.scheme.name, self.source
            )


def _read_lines(path: Path) -> tuple[list[str], dict[int, str]]:
    """Lines of a file with their endings, and line number -> reason for lines that are not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(path, None, f"cannot read file ({err.strerror or err})", "an existing, readable file") from err
    lines: list[str] = []
    undecodable: dict[int, str] = {}
    for number, chunk in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError as err:
            undecodable[number] = f"invalid UTF-8 ({err.reason} at byte {err.start + 1} of the line)"
            lines.append(chunk.decode("utf-8", errors="replace"))
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines, undecodable


def _undecodable_row(undecodable: dict[int, str], first: int, last: int) -> BadRow | None:
    for number in range(first, last + 1):
        if number in undecodable:
            return BadRow("undecodable_bytes", f"line {number} has {undecodable[number]}", "UTF-8 encoded text")
    return None


def _read_delimited(path: Path, delimiter: str, collector: SplitCollector) -> None:
    """CSV or TSV with a header row; line numbers count the header as line 1."""
    options = collector.options
    lines, undecodable = _read_lines(path)
    header: list[str] | None = None
    for parsed in delimited_rows(lines, delimiter):
        first, last, row = parsed.first, parsed.last, parsed.cells
        if parsed.problem is not None:
            collector.reject(parsed.line, BadRow("malformed_row", parsed.problem, parsed.expected))
            continue
        if not row:
            continue
        bad = _undecodable_row(undecodable, first, last)
        if header is None:
            if bad is not None:
                raise DataError(path, first, bad.problem, bad.expected)
            header = [name.strip() for name in row]
            _check_header(path, first, header, options, delimiter=delimiter)
            collector.declare_extras([name for name in header if name not in _roles(options)], first)
            continue
        if bad is not None:
            collector.reject(first, bad)
            continue
        if len(row) != len(header):
            collector.reject(
                first,
                BadRow(
                    "malformed_row",
                    f"row has {len(row)} field(s)",
                    f"{len(header)} fields as in the header ({', '.join(header)})",
                ),
            )
            continue
        record = dict(zip(header, row, strict=True))
        collector.add(first, record.pop(options.text_column), record.pop(options.label_column), record)
    if header is None:
        raise DataError(
            path,
            1,
            "the file is empty",
            f"a header row naming the columns {options.text_column!r} and {options.label_column!r}",
        )


def _check_header(path: Path, line: int, header: list[str], options: ReadOptions, *, delimiter: str) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(path, line, f"the header repeats the column {duplicates[0]!r}", "distinct column names")
    for role, name in (("text", options.text_column), ("label", options.label_column)):
        if name not in header:
            hint = " (to read a GoEmotions TSV without header, pass its folder)" if delimiter == "\t" else ""
            raise DataError(
                path,
                line,
                f"no {role} column {name!r} in the header (found columns: {', '.join(header)})",
                f"a column named {name!r}, or {role}_column= set to one of the columns{hint}",
            )


def _read_json_lines(path: Path, collector: SplitCollector) -> None:
    """JSON Lines: one object per line."""
    lines, undecodable = _read_lines(path)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        bad = _undecodable_row(undecodable, number, number)
        if bad is not None:
            collector.reject(number, bad)
            continue
        try:
            record = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as err:
            problem = f"invalid JSON ({err.msg} at column {err.colno})"
            collector.reject(number, BadRow("invalid_json", problem, "one JSON object per line"))
            continue
        _add_record(collector, number, record)


def _read_json_array(path: Path, collector: SplitCollector) -> None:
    """A JSON file holding one array of objects; each object's line is the line where it starts.

    Invalid JSON raises even with ``on_bad_rows="skip"``: the rest of the array cannot be found.
    """
    lines, undecodable = _read_lines(path)
    text = "".join(lines)
    line_starts = [0, *accumulate(len(line) for line in lines[:-1])]

    def line_of(offset: int) -> int:
        return bisect_right(line_starts, offset)

    decoder = json.JSONDecoder()
    whitespace = re.compile(r"\s*")
    position = whitespace.match(text, text.index("[") + 1).end()
    try:
        while not text.startswith("]", position):
            if position == len(text):
                raise DataError(
                    path, len(lines), "the JSON array is not closed", "a JSON array of objects ending with ']'"
                )
            record, end = decoder.raw_decode(text, position)
            first, last = line_of(position), line_of(end - 1)
            bad = _undecodable_row(undecodable, first, last)
            if bad is not None:
                collector.reject(first, bad)
            else:
                _add_record(collector, first, record)
            position = whitespace.match(text, end).end()
            if text.startswith(",", position):
                position = whitespace.match(text, position + 1).end()
            elif position < len(text) and not text.startswith("]", position):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
        if text[position + 1 :].strip():
            raise json.JSONDecodeError("Extra data", text, position + 1)
    except json.JSONDecodeError as err:
        raise DataError(
            path,
            err.lineno,
            f"invalid JSON ({err.msg} at column {err.colno})",
            "a JSON array of objects, or one JSON object per line",
        ) from err


def _add_record(collector: SplitCollector, line: int, record: Any) -> None:
    options = collector.options
    if not isinstance(record, dict):
        collector.reject(
            line,
            BadRow(
                "malformed_row",
                f"found a JSON {type(record).__name__}, not an object",
                f"a JSON object with the fields {options.text_column!r} and {options.label_column!r}",
            ),
        )
        return
    for role, name in (("text", options.text_column), ("label", options.label_column)):
        if name not in record:
            collector.reject(
                line,
                BadRow(
                    "missing_field",
                    f"no {role} field {name!r} (found fields: {', '.join(record) or 'none'})",
                    f"a field named {name!r}, or {role}_column= set to one of the fields",
                ),
            )
            return
    extras = {key: value for key, value in record.items() if key not in _roles(options)}
    collector.declare_extras(list(extras), line)
    collector.add(line, record[options.text_column], record[options.label_column], extras)


def _read_goemotions_tsv(path: Path, collector: SplitCollector) -> None:
    """GoEmotions TSV: no header; text, comma-separated label ids, comment id (kept as ``id``)."""
    lines, undecodable = _read_lines(path)
    collector.declare_extras(["id"], None)
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        bad = _undecodable_row(undecodable, number, number)
        if bad is not None:
            collector.reject(number, bad)
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            collector.reject(
                number, BadRow("malformed_row", f"found {len(fields)} tab-separated field(s)", _GOEMOTIONS_ROW)
            )
            continue
        text, cell, comment_id = fields
        collector.add(number, text, cell, {"id": comment_id})


def read_data_file(split: str, path: Path, options: ReadOptions, report: LoadReport) -> Dataset:
    file_format = FILE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise DataError(
            path,
            None,
            f"unsupported file type {path.suffix or '(none)'!r}",
            "a .csv, .tsv (with header), .jsonl or .json file",
        )
    if not path.is_file():
        raise DataError(path, None, "no such file", "an existing data file")
    collector = SplitCollector(split, str(path), options, report)
    if file_format in ("csv", "tsv"):
        _read_delimited(path, "," if file_format == "csv" else "\t", collector)
    elif file_format == "json" and _starts_with_bracket(path):
        _read_json_array(path, collector)
    else:
        _read_json_lines(path, collector)
    return collector.build()


def _starts_with_bracket(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def read_goemotions_folder(folder: Path, options: ReadOptions, report: LoadReport) -> dict[str, Dataset]:
    splits = {}
    for split, name in GOEMOTIONS_FILES.items():
        path = folder / name
        if path.is_file():
            collector = SplitCollector(split, str(path), options, report, label_separator=",")
            _read_goemotions_tsv(path, collector)
            splits[split] = collector.build()
    return splits


def label_matrix(dataset: Dataset) -> np.ndarray:
    """The ``labels`` column as an ``(n_rows, n_labels)`` float32 array.

    Raises:
        ValueError: If the rows have different numbers of labels.
    """
    column = dataset.with_format("arrow")["labels"].combine_chunks()
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    lengths = column.value_lengths().to_numpy(zero_copy_only=False)
    if np.any(lengths != lengths[0]):
        raise ValueError(f"labels have different lengths ({int(lengths.min())} to {int(lengths.max())})")
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    return values.reshape(len(column), int(lengths[0]))
