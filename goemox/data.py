"""Loading labelled texts into a :class:`datasets.DatasetDict` with multi-hot float labels.

Every loader returns splits among ``"train"``, ``"validation"`` and ``"test"`` with the columns
``text`` (string) and ``labels`` (``Sequence(Value("float32"))``, one 0/1 value per label of the
label scheme, in scheme order), plus any other column of the input unchanged (e.g. ``id``).

Label cells may hold label names, integer ids (indexing ``scheme.source_labels``, or the names of a
``ClassLabel`` feature), or a ready multi-hot vector of floats. A list of integers is always read as
ids, so multi-hot vectors must be written with floats (``[0.0, 1.0, ...]``). Names go through
:meth:`goemox.labels.LabelScheme.map_names`. A cell may be a list (JSON list in a CSV cell, real list
in JSONL or Arrow data) or a string split on ``label_separator``; an empty cell means "no label".

Bad input raises :class:`DataError` naming the file, the line and what was expected. With
``on_bad_rows="skip"`` bad rows are skipped, logged on the ``goemox.data`` logger and counted in the
:class:`LoadReport` that ``load_emotion_dataset(..., return_report=True)`` returns.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal

import datasets
import numpy as np
import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from .errors import GoEmoXError, GoEmoXUsageError
from .labels import LabelScheme, UnknownLabelError, get_label_scheme

__all__ = [
    "DataError",
    "LoadReport",
    "label_matrix",
    "load_emotion_dataset",
    "multilabel_stratified_split",
    "tokenize_dataset",
]

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validation", "test")
DEMO_SOURCE = "demo"
_DEMO_RESOURCE = "resources/demo_emotions.jsonl"
_SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}
_FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json"}
_GOEMOTIONS_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
_INTEGER = re.compile(r"[+-]?\d+")
_GOEMOTIONS_ROW = "3 tab-separated fields: text, comma-separated label ids, comment id"


class DataError(GoEmoXError):
    """Input data that cannot be loaded, e.g. ``"train.csv:17: unknown label 'joyy'; expected ..."``.

    Attributes:
        source: The file, folder or dataset the problem is in.
        line: 1-based line of the file (a CSV header is line 1), or row number of Arrow / Hub data;
            ``None`` when the problem concerns the whole source.
        problem: What was wrong.
        expected: What was expected instead.
    """

    def __init__(self, source: str | os.PathLike[str], line: int | None, problem: str, expected: str) -> None:
        self.source = os.fspath(source)
        self.line = line
        self.problem = problem
        self.expected = expected
        location = self.source if line is None else f"{self.source}:{line}"
        super().__init__(f"{location}: {problem}; expected {expected}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.line, self.problem, self.expected))


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
    """

    sources: dict[str, str] = field(default_factory=dict)
    num_rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)
    dropped_empty: dict[str, int] = field(default_factory=dict)
    created_splits: tuple[str, ...] = ()

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


class _BadRow(Exception):
    """A problem with one row; becomes a DataError or a skip."""

    def __init__(self, reason: str, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.reason = reason
        self.problem = problem
        self.expected = expected


@dataclass(frozen=True)
class _Options:
    scheme: LabelScheme
    text_column: str
    label_column: str
    label_separator: str
    on_bad_rows: str
    empty_rows: str


class _LabelEncoder:
    """Turns one label cell into a multi-hot vector of the scheme's labels."""

    def __init__(self, scheme: LabelScheme, separator: str, class_names: Sequence[str] | None = None) -> None:
        self.scheme = scheme
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
            raise _BadRow("invalid_labels", f"label cell is {cell!r}", self._expected())
        if any(isinstance(value, (float, bool)) for value in cell):
            return self._multi_hot(cell)
        self._check_repeated_ids(cell)
        names = [self._name(token) for token in cell]
        try:
            targets = self.scheme.map_names(names)
        except UnknownLabelError as err:
            raise _BadRow(
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
            raise _BadRow(
                "invalid_labels", f"label cell {cell!r} is not a valid JSON list ({err.msg})", self._expected()
            ) from None
        if not isinstance(parsed, list):
            raise _BadRow("invalid_labels", f"label cell {cell!r} is not a JSON list", self._expected())
        return parsed

    def _name(self, token: Any) -> str:
        if isinstance(token, str):
            token = token.strip()
            if token in self.known:
                return token
            if not _INTEGER.fullmatch(token):
                raise _BadRow(
                    "unknown_label",
                    f"unknown label {token!r}",
                    f"a label of scheme {self.scheme.name!r} ({', '.join(self.scheme.known_names)}) or an integer id",
                )
            token = int(token)
        if not isinstance(token, int) or isinstance(token, bool):
            raise _BadRow("invalid_labels", f"label {token!r} is neither a name nor an id", self._expected())
        if not 0 <= token < len(self.id_names):
            raise _BadRow(
                "label_id_out_of_range",
                f"label id {token} is out of range",
                f"an id in 0..{len(self.id_names) - 1} ({self.id_space})",
            )
        return self.id_names[token]

    def _multi_hot(self, cell: Sequence[Any]) -> list[float]:
        size = self.scheme.num_labels
        if len(cell) != size:
            raise _BadRow(
                "invalid_labels",
                f"multi-hot label vector has {len(cell)} values",
                f"{size} values, one per label of scheme {self.scheme.name!r}",
            )
        if not all(isinstance(value, (int, float)) and 0.0 <= value <= 1.0 for value in cell):
            raise _BadRow(
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
            raise _BadRow(
                "invalid_labels",
                f"label id {repeated[0]} is repeated in {list(cell)}",
                "distinct label ids (write a multi-hot vector with floats, e.g. 1.0)",
            )


def _roles(options: _Options) -> tuple[str, str]:
    return options.text_column, options.label_column


def _check_extra_names(source: str, options: _Options, names: Sequence[str], line: int | None) -> None:
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


class _SplitCollector:
    """Validates the rows of one split and gathers the columns of the resulting Dataset."""

    def __init__(
        self,
        split: str,
        source: str,
        options: _Options,
        report: LoadReport,
        *,
        label_separator: str | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.split = split
        self.source = source
        self.options = options
        self.report = report
        self.encode = _LabelEncoder(options.scheme, label_separator or options.label_separator, class_names)
        self.texts: list[str] = []
        self.labels: list[list[float]] = []
        self.extras: list[dict[str, Any]] = []
        self.extra_names: dict[str, None] = {}
        report.sources[split] = source

    def reject(self, line: int | None, bad: _BadRow) -> None:
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
                raise _BadRow("invalid_text", f"text is {text!r}, not a string", "a non-empty string")
            if not text.strip():
                raise _BadRow("empty_text", f"text {text!r} is empty or only whitespace", "a non-empty text")
            vector = self.encode(cell)
        except _BadRow as bad:
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


# ----------------------------------------------------------------------------------------------------
# Reading files
# ----------------------------------------------------------------------------------------------------


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


def _undecodable_row(undecodable: dict[int, str], first: int, last: int) -> _BadRow | None:
    for number in range(first, last + 1):
        if number in undecodable:
            return _BadRow("undecodable_bytes", f"line {number} has {undecodable[number]}", "UTF-8 encoded text")
    return None


def _read_delimited(path: Path, delimiter: str, collector: _SplitCollector) -> None:
    """CSV or TSV with a header row; line numbers count the header as line 1."""
    options = collector.options
    lines, undecodable = _read_lines(path)
    reader = csv.reader(lines, delimiter=delimiter)
    header: list[str] | None = None
    last = 0
    while True:
        first = last + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            last = reader.line_num
            collector.reject(first, _BadRow("malformed_row", f"cannot parse the row ({err})", "a well-formed row"))
            continue
        last = reader.line_num
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
                _BadRow(
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


def _check_header(path: Path, line: int, header: list[str], options: _Options, *, delimiter: str) -> None:
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


def _read_json_lines(path: Path, collector: _SplitCollector) -> None:
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
            collector.reject(number, _BadRow("invalid_json", problem, "one JSON object per line"))
            continue
        _add_record(collector, number, record)


def _read_json_array(path: Path, collector: _SplitCollector) -> None:
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


def _add_record(collector: _SplitCollector, line: int, record: Any) -> None:
    options = collector.options
    if not isinstance(record, dict):
        collector.reject(
            line,
            _BadRow(
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
                _BadRow(
                    "missing_field",
                    f"no {role} field {name!r} (found fields: {', '.join(record) or 'none'})",
                    f"a field named {name!r}, or {role}_column= set to one of the fields",
                ),
            )
            return
    extras = {key: value for key, value in record.items() if key not in _roles(options)}
    collector.declare_extras(list(extras), line)
    collector.add(line, record[options.text_column], record[options.label_column], extras)


def _read_goemotions_tsv(path: Path, collector: _SplitCollector) -> None:
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
                number, _BadRow("malformed_row", f"found {len(fields)} tab-separated field(s)", _GOEMOTIONS_ROW)
            )
            continue
        text, cell, comment_id = fields
        collector.add(number, text, cell, {"id": comment_id})


def _load_file(split: str, path: Path, options: _Options, report: LoadReport) -> Dataset:
    file_format = _FILE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise DataError(
            path,
            None,
            f"unsupported file type {path.suffix or '(none)'!r}",
            "a .csv, .tsv (with header), .jsonl or .json file",
        )
    if not path.is_file():
        raise DataError(path, None, "no such file", "an existing data file")
    collector = _SplitCollector(split, str(path), options, report)
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


def _load_goemotions_folder(folder: Path, options: _Options, report: LoadReport) -> dict[str, Dataset]:
    splits = {}
    for split, name in _GOEMOTIONS_FILES.items():
        path = folder / name
        if path.is_file():
            collector = _SplitCollector(split, str(path), options, report, label_separator=",")
            _read_goemotions_tsv(path, collector)
            splits[split] = collector.build()
    return splits


# ----------------------------------------------------------------------------------------------------
# Arrow data: save_to_disk folders and the Hub
# ----------------------------------------------------------------------------------------------------


def _convert_dataset(split: str, dataset: Dataset, source: str, options: _Options, report: LoadReport) -> Dataset:
    """Validate and convert an Arrow split; row numbers (1-based) stand in for line numbers."""
    columns = dataset.column_names
    for role, name in (("text", options.text_column), ("label", options.label_column)):
        if name not in columns:
            raise DataError(
                source,
                None,
                f"no {role} column {name!r} (found columns: {', '.join(columns)})",
                f"a column named {name!r}, or {role}_column= set to one of the columns",
            )
    feature = dataset.features[options.label_column]
    inner = getattr(feature, "feature", feature)
    class_names = inner.names if isinstance(inner, ClassLabel) else None
    collector = _SplitCollector(split, source, options, report, class_names=class_names)
    extra_columns = [name for name in columns if name not in _roles(options)]
    _check_extra_names(source, options, extra_columns, None)
    kept = [
        row
        for row, (text, cell) in enumerate(
            zip(dataset[options.text_column], dataset[options.label_column], strict=True)
        )
        if collector.add(row + 1, text, cell)
    ]
    core = collector.build()
    if not extra_columns:
        return core
    extras = dataset.select_columns(extra_columns).select(kept)
    return datasets.concatenate_datasets([core, extras.flatten_indices()], axis=1)


def _convert_dataset_dict(
    loaded: Dataset | DatasetDict, origin: str, options: _Options, report: LoadReport
) -> dict[str, Dataset]:
    if isinstance(loaded, Dataset):
        return {"train": _convert_dataset("train", loaded, origin, options, report)}
    splits: dict[str, Dataset] = {}
    for name, dataset in loaded.items():
        split = _SPLIT_ALIASES.get(name)
        if split is None:
            logger.warning("Ignoring split %r of %s (not one of %s)", name, origin, ", ".join(_SPLIT_ALIASES))
            continue
        if split in splits:
            raise DataError(
                origin,
                None,
                f"two of the splits ({', '.join(loaded)}) are {split} splits",
                "one split each of train, validation, test",
            )
        splits[split] = _convert_dataset(split, dataset, f"{origin} [{name}]", options, report)
    if not splits:
        raise DataError(
            origin,
            None,
            f"no usable split (found: {', '.join(loaded) or 'none'})",
            "a split named train, validation or test",
        )
    return splits


def _load_hub(source: str, dataset_config: str | None, options: _Options, report: LoadReport) -> dict[str, Dataset]:
    try:
        loaded = datasets.load_dataset(source, dataset_config)
    except Exception as err:
        raise DataError(
            source,
            None,
            f"not a local file or folder, and not a reachable Hub dataset ({type(err).__name__}: {err})",
            "an existing file or folder, 'demo', or a Hub dataset id such as "
            "'google-research-datasets/go_emotions' (with a network connection)",
        ) from err
    return _convert_dataset_dict(loaded, source, options, report)


def _load_folder(folder: Path, options: _Options, report: LoadReport) -> dict[str, Dataset]:
    if (folder / _GOEMOTIONS_FILES["train"]).is_file():
        return _load_goemotions_folder(folder, options, report)
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        return _convert_dataset_dict(datasets.load_from_disk(str(folder)), str(folder), options, report)
    raise DataError(
        folder,
        None,
        "the folder holds neither train.tsv nor a saved dataset",
        "a GoEmotions folder (train.tsv, dev.tsv, test.tsv) or a folder written by save_to_disk",
    )


# ----------------------------------------------------------------------------------------------------
# Splitting
# ----------------------------------------------------------------------------------------------------


def multilabel_stratified_split(label_matrix: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split rows into subsets that keep every label's share, by iterative stratification.

    Implements Sechidis, Tsoumakas & Vlahavas (2011), "On the Stratification of Multi-Label Data":
    the label with the fewest remaining positives is distributed first, each of its rows going to the
    subset that most lacks that label (ties: the subset that most lacks rows, then random). Rows
    without any label go to the subset that most lacks rows.

    Args:
        label_matrix: ``(n_rows, n_labels)`` array; values > 0 count as positive.
        fractions: Share of rows per subset (normalised to sum to 1); a zero share gives an empty subset.
        seed: Seed of the random tie-breaking and processing order; the same seed gives the same split.

    Returns:
        One sorted array of row indices per subset; together they cover every row exactly once.

    Example:
        >>> train, validation = multilabel_stratified_split(labels, [0.9, 0.1], seed=42)  # doctest: +SKIP
    """
    positives = np.asarray(label_matrix) > 0
    if positives.ndim != 2:
        raise ValueError(f"label_matrix must be 2-D (rows x labels), got shape {positives.shape}")
    shares = np.asarray(fractions, dtype=np.float64)
    valid = shares.ndim == 1 and shares.size > 0 and bool(np.all(np.isfinite(shares)))
    if not (valid and np.all(shares >= 0) and shares.sum() > 0):
        raise ValueError(f"fractions must be non-negative numbers with a positive sum, got {list(fractions)}")
    shares = shares / shares.sum()
    rng = np.random.default_rng(seed)
    n_rows = positives.shape[0]
    counts = positives.astype(np.int64)
    wanted_rows = shares * n_rows
    wanted_labels = np.outer(shares, counts.sum(axis=0))
    unused = shares == 0
    wanted_rows[unused] = -np.inf
    wanted_labels[unused] = -np.inf

    assignment = np.full(n_rows, -1, dtype=np.int64)
    order = rng.permutation(n_rows)
    remaining = counts.sum(axis=0)
    while remaining.any():
        fewest = np.where(remaining > 0, remaining, np.iinfo(np.int64).max)
        label = rng.choice(np.flatnonzero(fewest == fewest.min()))
        for row in order[(assignment[order] < 0) & positives[order, label]]:
            subset = _most_lacking(wanted_labels[:, label], wanted_rows, rng)
            assignment[row] = subset
            wanted_labels[subset] -= counts[row]
            wanted_rows[subset] -= 1
            remaining -= counts[row]
    for row in order[assignment[order] < 0]:
        subset = _most_lacking(wanted_rows, wanted_rows, rng)
        assignment[row] = subset
        wanted_rows[subset] -= 1
    return [np.flatnonzero(assignment == subset) for subset in range(shares.size)]


def _most_lacking(primary: np.ndarray, secondary: np.ndarray, rng: np.random.Generator) -> int:
    candidates = np.flatnonzero(primary == primary.max())
    if candidates.size > 1:
        candidates = candidates[secondary[candidates] == secondary[candidates].max()]
    return int(candidates[0] if candidates.size == 1 else rng.choice(candidates))


def _add_missing_splits(
    splits: dict[str, Dataset], validation_size: float, test_size: float, seed: int, report: LoadReport
) -> dict[str, Dataset]:
    """Carve the missing validation / test splits out of train with a stratified split."""
    missing = {
        name: size
        for name, size in (("validation", validation_size), ("test", test_size))
        if name not in splits and size > 0
    }
    if "train" not in splits or not missing:
        return splits
    train = splits["train"]
    fractions = [1 - sum(missing.values()), *missing.values()]
    parts = multilabel_stratified_split(label_matrix(train), fractions, seed)
    result = {**splits, "train": train.select(parts[0])}
    for name, indices in zip(missing, parts[1:], strict=True):
        result[name] = train.select(indices)
        report.sources[name] = f"{report.sources['train']} (stratified {missing[name]:.0%} of train)"
    report.created_splits = tuple(missing)
    logger.info(
        "Split %d training rows into %s",
        len(train),
        ", ".join(f"{name}={len(result[name])}" for name in ("train", *missing)),
    )
    return result


# ----------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------


def load_emotion_dataset(
    source: str | os.PathLike[str] | None = None,
    *,
    scheme: str | LabelScheme = "goemotions",
    train_file: str | os.PathLike[str] | None = None,
    validation_file: str | os.PathLike[str] | None = None,
    test_file: str | os.PathLike[str] | None = None,
    dataset_config: str | None = "simplified",
    text_column: str = "text",
    label_column: str = "labels",
    label_separator: str = ",",
    on_bad_rows: Literal["error", "skip"] = "error",
    empty_rows: Literal["keep", "drop"] = "keep",
    validation_size: float = 0.1,
    test_size: float = 0.1,
    seed: int = 42,
    return_report: bool = False,
) -> DatasetDict | tuple[DatasetDict, LoadReport]:
    """Load labelled texts as splits with ``text`` and multi-hot float32 ``labels`` columns.

    ``source`` is resolved in this order:

    1. ``"demo"``: the packaged demo set (labels of the ``"ten"`` scheme, so pass ``scheme="ten"``).
    2. A folder with ``train.tsv``: GoEmotions format (no header; text, comma-separated label ids,
       comment id kept as ``id``); ``train.tsv``, ``dev.tsv`` and ``test.tsv`` become train, validation
       and test.
    3. A folder written by ``save_to_disk`` (a Dataset becomes train; a DatasetDict's ``dev`` and
       ``valid`` splits count as validation).
    4. A ``.csv`` / ``.tsv`` file with a header, or a ``.jsonl`` / ``.json`` file: the training data.
    5. Anything else is a Hub dataset id, loaded with ``datasets.load_dataset(source, dataset_config)``.

    ``train_file`` / ``validation_file`` / ``test_file`` give the splits explicitly; when any of them is
    set, a ``source`` that is not itself a file is not read. Validation and test splits missing from the
    data are carved out of train with :func:`multilabel_stratified_split` (``validation_size`` and
    ``test_size`` are shares of the training rows; 0 leaves the split out).

    Args:
        source: Where the data is; see above.
        scheme: Label scheme name, JSON scheme path, or :class:`~goemox.labels.LabelScheme`.
        train_file: Training data file (``.csv``, ``.tsv``, ``.jsonl``, ``.json``).
        validation_file: Validation data file.
        test_file: Test data file.
        dataset_config: Configuration of a Hub dataset (``None`` for datasets without one).
        text_column: Column / field holding the text.
        label_column: Column / field holding the labels.
        label_separator: Separator between labels in a string cell.
        on_bad_rows: ``"error"`` raises :class:`DataError` at the first bad row, ``"skip"`` skips and counts
            it. Problems with a whole file (a missing column, a broken JSON array) raise either way.
        empty_rows: Rows without any label of the scheme: ``"keep"`` them as all-zero rows, or ``"drop"``.
        validation_size: Share of train split off as validation when there is none.
        test_size: Share of train split off as test when there is none.
        seed: Seed of the stratified split.
        return_report: Also return a :class:`LoadReport`.

    Returns:
        The :class:`~datasets.DatasetDict`, or ``(dataset_dict, report)`` with ``return_report=True``.

    Raises:
        DataError: Bad or unreachable data, naming the file, line and what was expected.

    Example:
        >>> splits, report = load_emotion_dataset("train.csv", scheme="ekman", on_bad_rows="skip",
        ...                                       return_report=True)  # doctest: +SKIP
        >>> splits["train"][0]  # doctest: +SKIP
        {'text': 'What a lovely day!', 'labels': [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]}
    """
    if on_bad_rows not in ("error", "skip"):
        raise GoEmoXUsageError(f"on_bad_rows must be 'error' or 'skip', got {on_bad_rows!r}")
    if empty_rows not in ("keep", "drop"):
        raise GoEmoXUsageError(f"empty_rows must be 'keep' or 'drop', got {empty_rows!r}")
    if text_column == label_column:
        raise GoEmoXUsageError(f"text_column and label_column are both {text_column!r}")
    if not (0 <= validation_size < 1 and 0 <= test_size < 1 and validation_size + test_size < 1):
        raise GoEmoXUsageError(
            f"validation_size ({validation_size}) and test_size ({test_size}) must be in [0, 1) with a sum below 1"
        )
    options = _Options(
        scheme=scheme if isinstance(scheme, LabelScheme) else get_label_scheme(scheme),
        text_column=text_column,
        label_column=label_column,
        label_separator=label_separator,
        on_bad_rows=on_bad_rows,
        empty_rows=empty_rows,
    )
    report = LoadReport()
    given = {
        split: path
        for split, path in zip(SPLITS, (train_file, validation_file, test_file), strict=True)
        if path is not None
    }
    splits = _read_splits(source, given, dataset_config, options, report)
    splits = _add_missing_splits(splits, validation_size, test_size, seed, report)
    dataset_dict = DatasetDict({split: splits[split] for split in SPLITS if split in splits})
    report.num_rows = {split: len(dataset) for split, dataset in dataset_dict.items()}
    return (dataset_dict, report) if return_report else dataset_dict


def _read_splits(
    source: str | os.PathLike[str] | None,
    given: dict[str, str | os.PathLike[str]],
    dataset_config: str | None,
    options: _Options,
    report: LoadReport,
) -> dict[str, Dataset]:
    """Resolve ``source`` and the explicit split files into splits, as described in load_emotion_dataset."""
    if source is not None and source != DEMO_SOURCE and _is_data_file(source):
        if "train" in given:
            raise GoEmoXUsageError(f"source {os.fspath(source)!r} is a data file, and train_file is also given")
        given = {"train": source, **given}
    elif given and source is not None:
        logger.info("Reading %s; source %r is not used", ", ".join(f"{s}_file" for s in given), source)
    if given:
        return {split: _load_file(split, Path(path).expanduser(), options, report) for split, path in given.items()}
    if source == DEMO_SOURCE:
        with as_file(files(__package__).joinpath(_DEMO_RESOURCE)) as demo:
            return {"train": _load_file("train", demo, options, report)}
    if source is None:
        raise GoEmoXUsageError("pass a source (file, folder, 'demo' or Hub dataset id) or split files")
    folder = Path(source).expanduser()
    if folder.is_dir():
        return _load_folder(folder, options, report)
    return _load_hub(os.fspath(source), dataset_config, options, report)


def _is_data_file(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a data file (existing, or with a data file extension)."""
    path = Path(source).expanduser()
    return path.is_file() or (path.suffix.lower() in _FILE_FORMATS and not path.is_dir())


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


def tokenize_dataset(dataset_dict: DatasetDict, tokenizer: Any, max_length: int = 128) -> DatasetDict:
    """Tokenize the ``text`` column of every split, without padding.

    Padding happens per batch in the data collator. Adds an int column ``length`` (number of tokens,
    for length-grouped sampling), keeps ``labels`` and other non-string columns, and removes ``text``
    and every other string column, which the model cannot take.

    Args:
        dataset_dict: Splits as returned by :func:`load_emotion_dataset`.
        tokenizer: A Hugging Face tokenizer.
        max_length: Longer texts are truncated to this many tokens.

    Returns:
        A new DatasetDict with ``input_ids``, ``attention_mask`` (and the tokenizer's other outputs),
        ``length`` and ``labels``.
    """

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        encoded = dict(tokenizer(batch["text"], truncation=True, max_length=max_length))
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    tokenized = {}
    for split, dataset in dataset_dict.items():
        strings = [
            name
            for name, feature in dataset.features.items()
            if isinstance(feature, Value) and feature.dtype in ("string", "large_string")
        ]
        tokenized[split] = dataset.map(encode, batched=True, remove_columns=strings, desc=f"Tokenizing {split}")
    return DatasetDict(tokenized)
