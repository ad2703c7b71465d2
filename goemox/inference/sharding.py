"""Prediction over an input of any size in fixed-size chunks of rows, shared between processes (or machines) and
resumable.

Chunk `i` (rows `i * chunk_rows` onwards) is predicted by process `i % world_size` and written atomically as one shard
file in a folder beside the output (`OUTPUT.shards/chunk-000000.shard`, ...); once every process is done, the main
process joins the shards in chunk order into the output and removes the folder. Every process reads the whole input
as a stream (so each knows every chunk and refuses a bad line as the others do), holding one chunk at a time.

A shard file is a one-line JSON record followed by the chunk's predictions in the output format (CSV without its
header). The record names the chunk and its rows, a SHA-256 of those input rows, the run's fingerprint (the model's
files and the options, :func:`run_fingerprint`) and the length of the rest. A shard whose record matches the chunk
being read is complete and is not predicted again, so a run that was killed resumes where it stopped; one made from
other rows, another model or other options is predicted again, and a file cut short, or a temporary file left by a
write that never finished, is never taken for a shard.

Example:

```python
>>> folder, run = shard_folder("preds.jsonl"), run_fingerprint("runs/demo", {})  # doctest: +SKIP
>>> keys = predict_shards(iter_inputs("texts.jsonl"), classifier, folder, run)  # doctest: +SKIP
>>> merge_shards(folder, keys, "preds.jsonl")  # doctest: +SKIP
1200
```"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from goemox.errors import GoEmoXUsageError
from goemox.file_io import open_atomically, write_text_atomically
from goemox.inference.attribution import DEFAULT_STEPS
from goemox.inference.io import (
    check_prediction_columns,
    csv_prediction_fields,
    csv_writer,
    format_predictions,
    input_columns,
)
from goemox.inference.predictor import EmotionPredictor

DEFAULT_CHUNK_ROWS = 10_000
"""Rows per chunk when several processes share an input and no chunk size is given."""

SHARD_FORMAT = 1
"""The version of the shard record; a shard of another version is predicted again."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardKey:
    """What a shard must have been made from to stand for a chunk.

    Attributes:
        chunk: the chunk's number (0-based).
        start: its first row (0-based, in input order).
        stop: one past its last row.
        rows: SHA-256 of its input rows (:func:`rows_digest`).
        run: the run's fingerprint (:func:`run_fingerprint`).
    """

    chunk: int
    start: int
    stop: int
    rows: str
    run: str

    def describe(self) -> str:
        """`chunk 3 (rows 31-40)`, for messages (rows counted from 1)."""
        return f"chunk {self.chunk} (rows {self.start + 1}-{self.stop})"


@dataclass(frozen=True)
class ShardRecord:
    """The first line of a shard file.

    Attributes:
        key: the chunk it was made from.
        columns: the input columns of its rows, in the order they first appear (the CSV body's first columns).
        added: the CSV columns predict added after them.
        size: the bytes of the file after the record line.
    """

    key: ShardKey
    columns: list[str]
    added: list[str]
    size: int


def shard_folder(output: str | Path) -> Path:
    """The folder of an output's shards: `OUTPUT.shards` beside it.

    Example:

    ```python
    >>> shard_folder("out/preds.csv").as_posix()
    'out/preds.csv.shards'
    ```"""
    output = Path(output)
    return output.with_name(output.name + ".shards")


def shard_path(folder: str | Path, chunk: int) -> Path:
    """The shard file of chunk number `chunk` in `folder`.

    Example:

    ```python
    >>> shard_path("preds.csv.shards", 12).name
    'chunk-000012.shard'
    ```"""
    return Path(folder) / f"chunk-{chunk:06d}.shard"


SHARD_NAME = re.compile(r"chunk-\d{6}\.shard")
"""The name of a shard file (see :func:`shard_path`)."""

UNFINISHED_SHARD_NAME = re.compile(r"\.chunk-\d{6}\.shard\..+\.tmp")
"""The name of a shard's temporary file, left when a process is killed while it writes (see `open_atomically`)."""


def written_by_goemox(path: str | Path) -> bool:
    """Whether `path` is a file goemox writes in a shard folder: a shard (its name, and a first line that is a shard
    record, even if the rest was cut short) or the temporary file of a shard's unfinished write.

    Example:

    ```python
    >>> written_by_goemox("preds.jsonl.shards/notes.txt")
    False
    ```"""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return False
    if UNFINISHED_SHARD_NAME.fullmatch(path.name):
        return True
    if not SHARD_NAME.fullmatch(path.name):
        return False
    try:
        with open(path, "rb") as stream:
            record = json.loads(stream.readline())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "goemox_shard" in record


def check_shard_folder(folder: str | Path, option: str = "--output") -> Path:
    """Refuse, before any work, a shard folder holding anything goemox did not write there: the folder is deleted
    once the output is joined, and the user's files must not go with it.

    Args:
        folder: the shard folder (:func:`shard_folder`).
        option: the option that named the output, for the message.

    Raises:
        GoEmoXUsageError: `folder` is a symbolic link, not a folder, or holds other files or folders.

    Example:

    ```python
    >>> check_shard_folder("preds.jsonl.shards")  # doctest: +SKIP
    PosixPath('preds.jsonl.shards')
    ```"""
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise GoEmoXUsageError(
            f"{option}: {folder} is where the chunks of the output are kept, and it is a link or a file; move it away "
            "or choose another output"
        )
    entries = sorted(folder.iterdir()) if folder.exists() else []
    foreign = [entry.name for entry in entries if not written_by_goemox(entry)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise GoEmoXUsageError(
            f"{option}: {folder} holds files goemox did not write ({shown}); the chunks of the output are kept there "
            "and the folder is deleted when they are joined: move those files away or choose another output"
        )
    return folder


def remove_shard_folder(folder: str | Path) -> None:
    """Delete the shards and unfinished shard writes in `folder`, then the folder if nothing else is left in it."""
    folder = Path(folder)
    if not folder.is_dir():  # an empty input has no shards, hence no folder
        return
    for entry in folder.iterdir():
        if written_by_goemox(entry):
            entry.unlink()
    try:
        folder.rmdir()
    except OSError:
        logger.warning("%s: kept, it holds files goemox did not write", folder)


def run_fingerprint(model: str, settings: Mapping[str, Any]) -> str:
    """A SHA-256 over what makes a run's predictions: the model (for a local folder, the name and bytes of each file
    in it, hidden files aside; for a Hub id, the id) and the settings.

    Args:
        model: the model folder or Hub id.
        settings: every option that changes the output (JSON values), by name.

    Example:

    ```python
    >>> run_fingerprint("runs/demo", {"max_length": 128, "output_format": "jsonl"})  # doctest: +SKIP
    '5f0c...'
    ```"""
    digest = hashlib.sha256(json.dumps(dict(settings), sort_keys=True).encode())
    folder = Path(model).expanduser()
    if not folder.is_dir():
        digest.update(f"hub:{model}".encode())
        return digest.hexdigest()
    for path in sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")):
        digest.update(f"\0{path.name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def rows_digest(rows: Iterable[dict]) -> str:
    """A SHA-256 of input rows (each as JSON, in order).

    Example:

    ```python
    >>> rows_digest([{"text": "hi"}]) == rows_digest([{"text": "hi"}]) != rows_digest([{"text": "hi!"}])
    True
    ```"""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row).encode() + b"\n")
    return digest.hexdigest()


def iter_chunks(rows: Iterable[dict], chunk_rows: int) -> Iterator[tuple[int, list[dict]]]:
    """`(number, rows)` for consecutive chunks of `chunk_rows` rows (the last may be shorter), read as needed.

    Example:

    ```python
    >>> [(number, len(rows)) for number, rows in iter_chunks([{"text": "a"}] * 5, 2)]
    [(0, 2), (1, 2), (2, 1)]
    ```"""
    if chunk_rows < 1:
        raise GoEmoXUsageError(f"--chunk_rows must be at least 1, got {chunk_rows}")
    iterator = iter(rows)
    for number in itertools.count():
        chunk = list(itertools.islice(iterator, chunk_rows))
        if not chunk:
            return
        yield number, chunk


def write_shard(path: str | Path, record: ShardRecord, body: str) -> Path:
    """Write a shard file atomically: the record's line, then `body` (whose UTF-8 length is `record.size`).

    Example:

    ```python
    >>> write_shard(shard_path(folder, 0), record, body)  # doctest: +SKIP
    ```"""
    line = json.dumps({"goemox_shard": SHARD_FORMAT, **asdict(record)}) + "\n"
    return write_text_atomically(path, line + body)


def read_shard_record(path: str | Path) -> ShardRecord | None:
    """The record of a complete shard file; `None` for a missing file, one that is not a shard, or one cut short.

    Example:

    ```python
    >>> read_shard_record("preds.jsonl.shards/chunk-000000.shard").key.stop  # doctest: +SKIP
    10000
    ```"""
    try:
        with open(path, "rb") as stream:
            line = stream.readline()
            size = os.fstat(stream.fileno()).st_size
        fields = json.loads(line)
        record = ShardRecord(ShardKey(**fields["key"]), fields["columns"], fields["added"], fields["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if fields.get("goemox_shard") != SHARD_FORMAT or size != len(line) + record.size:
        return None
    return record


def predict_shards(
    rows: Iterable[dict],
    classifier: EmotionPredictor,
    folder: str | Path,
    run: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    rank: int = 0,
    world_size: int = 1,
    text_column: str = "text",
    fmt: str = "jsonl",
    prefix: str = "",
    ensure_top_label: bool = False,
    explain_top: int | None = None,
    explain_steps: int = DEFAULT_STEPS,
    name: str = "the input",
) -> list[ShardKey]:
    """Predict this process's chunks of the input into shard files, skipping those already complete.

    Every process reads every row: each checks every chunk's columns (so a bad input stops them all alike) and
    predicts the chunks whose number is `rank` modulo `world_size`.

    Args:
        rows: the input rows, in order (a stream: see :func:`goemox.data.text_files.iter_inputs`).
        classifier: the model.
        folder: where the shards go (see :func:`shard_folder`); created with the first shard.
        run: the run's fingerprint (:func:`run_fingerprint`).
        chunk_rows: rows per chunk (every process must use the same).
        rank: this process's number, from 0.
        world_size: how many processes share the input.
        text_column: the column with the text.
        fmt: the output format, `jsonl` or `csv`.
        prefix: put before the name of every column predict adds.
        ensure_top_label: give every text at least its most probable label.
        explain_top: add each prediction's explanation with this many words per label (`None`: no explanation).
        explain_steps: points of the integrated-gradients integral, with `explain_top`.
        name: what to call the input in messages.

    Returns:
        The key of every chunk of the input (this process's and the others'), in order, for :func:`merge_shards`.

    Raises:
        GoEmoXUsageError: a bad input line, or an input column a prediction column would replace.
    """
    keys: list[ShardKey] = []
    predicted = reused = 0
    for number, chunk in iter_chunks(rows, chunk_rows):
        check_prediction_columns(chunk, classifier.label_names, prefix, name)
        key = ShardKey(number, number * chunk_rows, number * chunk_rows + len(chunk), rows_digest(chunk), run)
        keys.append(key)
        if number % world_size != rank:
            continue
        path = shard_path(folder, number)
        found = read_shard_record(path)
        if found is not None and found.key == key:
            logger.info("%s: already predicted in %s", key.describe(), path)
            reused += 1
            continue
        if path.exists():
            logger.info(
                "%s: %s is incomplete or was made from other rows, another model or other options; predicting again",
                key.describe(),
                path,
            )
        texts = [row[text_column] for row in chunk]
        predictions = classifier.predict(texts, ensure_top_label=ensure_top_label)
        if explain_top is not None:
            classifier.add_explanations(texts, predictions, explain_top, n_steps=explain_steps)
        body = format_predictions(chunk, predictions, fmt, prefix=prefix, header=False)
        record = ShardRecord(key, input_columns(chunk), csv_prediction_fields(predictions, prefix), len(body.encode()))
        write_shard(path, record, body)
        logger.info("%s: predicted", key.describe())
        predicted += 1
    logger.info(
        "process %d of %d: predicted %d chunk(s), %d already done, of %d in all",
        rank + 1,
        world_size,
        predicted,
        reused,
        len(keys),
    )
    return keys


def merge_shards(
    folder: str | Path, keys: Sequence[ShardKey], output: str | Path, fmt: str = "jsonl", prefix: str = ""
) -> int:
    """Join the shards of every chunk, in chunk order, into `output` (atomically, streamed: no shard is held whole),
    then remove the shard folder (:func:`remove_shard_folder`).

    CSV output has one header: every input column in the order it first appears, then predict's columns; a shard
    whose rows lack some of those columns has its rows laid out again under it.

    Args:
        folder: the shard folder.
        keys: every chunk's key, as :func:`predict_shards` returns them.
        output: the file to write.
        fmt: `jsonl` or `csv`.
        prefix: put before the name of every column predict adds (for the header of an empty input).

    Returns:
        How many rows were written.

    Raises:
        GoEmoXUsageError: a shard that is missing, cut short, or made for another chunk or run (named, with what to do).
    """
    folder = Path(folder)
    records = []
    for key in keys:
        path = shard_path(folder, key.chunk)
        record = read_shard_record(path)
        if record is None or record.key != key:
            raise GoEmoXUsageError(
                f"{path}: the shard of {key.describe()} is missing, incomplete or was made by another run; run the "
                "same command again to predict it (the input and output must be on a file system every process sees)"
            )
        records.append(record)
    columns = list(dict.fromkeys(column for record in records for column in record.columns))
    added = records[0].added if records else csv_prediction_fields([], prefix)
    with open_atomically(output) as out:
        if fmt == "csv":
            csv_writer(out, columns + added).writeheader()
        for record in records:
            with open(shard_path(folder, record.key.chunk), encoding="utf-8", newline="") as shard:
                shard.readline()  # the record: JSON, so one line without a carriage return
                if fmt != "csv" or record.columns == columns:
                    shutil.copyfileobj(shard, out)
                    continue
                writer = csv_writer(out, columns + added)
                for cells in csv.reader(shard):
                    writer.writerow(dict(zip(record.columns + record.added, cells)))
    remove_shard_folder(folder)
    return keys[-1].stop if keys else 0
