"""The domains that analyses read: sets of texts named `NAME=SOURCE`, where SOURCE is a TXT/CSV/TSV/JSONL/JSON
file (with an optional `:COLUMN`) or `DATASET:SPLIT` (any data set goemox reads, and its split).

Example:

```python
>>> domain = parse_domain("hn=hackernews.jsonl:title")  # doctest: +SKIP
>>> domain.name, domain.source.column  # doctest: +SKIP
('hn', 'title')
```"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from goemox.data.loading import load_emotion_dataset
from goemox.data.text_files import read_inputs
from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.labels import LabelScheme

FILE_SUFFIXES = (".txt", ".csv", ".tsv", ".jsonl", ".json")


SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation", "test": "test"}


DEFAULT_DATASET_SPLIT = "test"


@dataclass(frozen=True)
class TextSource:
    """A set of texts: a file, or one split of a dataset that `load_emotion_dataset` reads.

    Attributes:
        spec: the source as the user wrote it.
        path: the file, folder, `demo` or Hub dataset id.
        column: for a CSV / TSV / JSONL file, the column with the text (`None` for a TXT file or a dataset).
        split: for a dataset, the split (`train`, `validation` or `test`).
    """

    spec: str
    path: str
    column: str | None = None
    split: str | None = None

    @property
    def is_dataset(self) -> bool:
        return self.split is not None


@dataclass(frozen=True)
class Domain:
    """A named domain of texts (`--domain NAME=SOURCE`)."""

    name: str
    source: TextSource


def _is_local_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or (os.sep in text and Path(text).expanduser().parent.exists())


def _file_source(spec: str, path: Path, column: str | None, text_column: str) -> TextSource:
    if path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json"):
        return TextSource(spec=spec, path=str(path), column=column or text_column)
    if column is not None:
        raise GoEmoXUsageError(
            f"{spec!r}: {path} is read as plain text (one text per line) and has no column {column!r}; "
            "columns apply to .csv, .tsv, .jsonl and .json files"
        )
    return TextSource(spec=spec, path=str(path))


def _split_name(spec: str, split: str) -> str:
    if split.lower() not in SPLIT_NAMES:
        raise GoEmoXUsageError(
            f"{spec!r}: unknown split {split!r}; expected one of train, validation (or dev, valid), test"
        )
    return SPLIT_NAMES[split.lower()]


def parse_text_source(spec: str, text_column: str = "text") -> TextSource:
    """Read a source of texts, in one of these forms:

    - `PATH.txt` (or any file not named below): one text per line, blank lines skipped.
    - `PATH.csv`, `PATH.tsv`, `PATH.jsonl`, `PATH.json` (JSON Lines): the column `text_column`;
      `PATH.csv:COLUMN` names the column.
    - `DATASET:SPLIT`: the split (`train`, `validation`/`dev`/`valid`, `test`) of anything
      `goemox.data.load_emotion_dataset` reads that is not a single file: a GoEmotions TSV folder, a
      `save_to_disk` folder, `demo`, or a Hub dataset id. `DATASET` alone means its `test` split.

    The part after the last `:` is a column or split only when the whole spec is not an existing file.

    Args:
        spec: the source.
        text_column: the text column of CSV / TSV / JSONL files given without `:COLUMN`.

    Example:
        >>> parse_text_source("../shared/data/goemotions:dev").split  # doctest: +SKIP
        'validation'
    """
    if not spec.strip():
        raise GoEmoXUsageError("an empty source; expected a file, or a dataset with :SPLIT")
    whole = Path(spec).expanduser()
    if whole.is_file():
        return _file_source(spec, whole, None, text_column)
    base, colon, suffix = spec.rpartition(":")
    if not colon:
        base, suffix = spec, None
    elif not suffix:
        raise GoEmoXUsageError(f"{spec!r}: nothing after ':'; expected a column (files) or a split (datasets)")
    path = Path(base).expanduser()
    if path.is_file():
        return _file_source(spec, path, suffix, text_column)
    if path.exists() and not path.is_dir():
        raise GoEmoXUsageError(
            f"{spec!r}: {base} is not a regular file (a device, pipe or socket); expected a text file"
        )
    if path.suffix.lower() in FILE_SUFFIXES:
        raise GoEmoXUsageError(f"{spec!r}: no such file {base}")
    if not path.is_dir() and base != "demo" and _is_local_path(base):
        raise GoEmoXUsageError(f"{spec!r}: no such file or folder {base}")
    return TextSource(spec=spec, path=base, split=_split_name(spec, suffix or DEFAULT_DATASET_SPLIT))


def split_domain_spec(spec: str, option: str = "--domain") -> tuple[str, str]:
    """The name and the source of a `NAME=SOURCE` domain, checking only the form (no file is read).

    Args:
        spec: the domain as the user wrote it.
        option: the option that gave it, for the messages.

    Example:
        >>> split_domain_spec("hn=titles.txt")
        ('hn', 'titles.txt')
    """
    name, sep, source = spec.partition("=")
    name = name.strip()
    if not sep or not name or not source.strip():
        raise GoEmoXUsageError(f"{option} {spec!r}: expected NAME=SOURCE, e.g. hackernews=titles.txt")
    if any(char in name for char in ":/\\"):
        raise GoEmoXUsageError(f"{option} {spec!r}: the name {name!r} may not contain ':', '/' or '\\'")
    return name, source.strip()


def parse_domain(spec: str, text_column: str = "text", option: str = "--domain") -> Domain:
    """A `NAME=SOURCE` domain; SOURCE as in :func:`parse_text_source`.

    Args:
        spec: the domain as the user wrote it.
        text_column: the text column of CSV / TSV / JSONL files given without `:COLUMN`.
        option: the option that gave it, for the messages.

    Example:
        >>> parse_domain("hackernews=../shared/data/ood/hackernews_titles.txt").name  # doctest: +SKIP
        'hackernews'
    """
    name, source = split_domain_spec(spec, option)
    try:
        return Domain(name=name, source=parse_text_source(source.strip(), text_column))
    except GoEmoXError as err:
        raise GoEmoXUsageError(f"{option} {spec!r}: {err}") from None


class TextLoader:
    """Loads the texts of sources, reading each dataset once.

    Args:
        scheme: the label scheme `load_emotion_dataset` parses a dataset's labels with (only the texts are used).

    Example:

    ```python
    >>> TextLoader().texts(parse_text_source("../shared/data/goemotions:validation"))[:1]  # doctest: +SKIP
    ['...']
    ```"""

    def __init__(self, scheme: str | LabelScheme = "goemotions"):
        self.scheme = scheme
        self._datasets: dict[str, Any] = {}

    def texts(self, source: TextSource) -> list[str]:
        try:
            if not source.is_dataset:
                column = source.column or "text"
                return [row[column] for row in read_inputs(source.path, column)]
            if source.path not in self._datasets:
                self._datasets[source.path] = load_emotion_dataset(source.path, scheme=self.scheme)
            splits = self._datasets[source.path]
        except GoEmoXError as err:
            raise GoEmoXUsageError(f"{source.spec!r}: {err}") from None
        if source.split not in splits:
            raise GoEmoXUsageError(f"{source.spec!r}: the dataset has no {source.split!r} split; it has {list(splits)}")
        return list(splits[source.split]["text"])


def sample_texts(texts: list[str], max_texts: int | None, seed: int) -> list[str]:
    """At most `max_texts` texts drawn without replacement (seeded), in their original order; all when `None`."""
    if max_texts is None or len(texts) <= max_texts:
        return texts
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=max_texts, replace=False))
    return [texts[i] for i in chosen]
