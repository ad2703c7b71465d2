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

import logging
import os
from importlib.resources import as_file
from pathlib import Path
from typing import Literal

import datasets
from datasets import ClassLabel, Dataset, DatasetDict

from goemox.data.readers import (
    FILE_FORMATS,
    GOEMOTIONS_FILES,
    LoadReport,
    ReadOptions,
    SplitCollector,
    _check_extra_names,
    _roles,
    read_data_file,
    read_goemotions_folder,
)
from goemox.data.splitting import add_missing_splits
from goemox.errors import DataError, GoEmoXUsageError
from goemox.labels import LabelScheme, get_label_scheme
from goemox.resources import DEMO_DATA, resource

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validation", "test")
"""The split names a loaded data set may hold, in the order `load_emotion_dataset` returns them."""
DEMO_SOURCE = "demo"
_SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}


def _convert_dataset(split: str, dataset: Dataset, source: str, options: ReadOptions, report: LoadReport) -> Dataset:
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
    collector = SplitCollector(split, source, options, report, class_names=class_names)
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
    loaded: Dataset | DatasetDict, origin: str, options: ReadOptions, report: LoadReport
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


HUB_EXPECTED = (
    "an existing file or folder, 'demo', or a Hub dataset id such as 'google-research-datasets/go_emotions' "
    "(with a network connection)"
)


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exception types meaning the Hub could not be reached (offline mode, no connection, a timeout)."""
    errors: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
    try:
        import httpx

        errors += (httpx.TransportError,)
    except ImportError:  # huggingface_hub before 1.0 talks through requests, whose errors are ConnectionErrors
        pass
    try:
        import requests

        errors += (requests.ConnectionError, requests.Timeout)
    except ImportError:
        pass
    return errors


def _hub_error(source: str, dataset_config: str | None, err: Exception) -> DataError:
    """The one-line DataError for a failed ``datasets.load_dataset``: a missing configuration, an unreachable Hub,
    an unknown dataset, or the library's own message."""
    message = " ".join(str(err).split())
    if isinstance(err, ValueError) and "BuilderConfig" in message and "not found" in message:
        return DataError(
            source,
            None,
            f"the Hub dataset has no configuration {dataset_config!r} ({message})",
            "one of its configurations given with --dataset_config (or --dataset_config none)",
        )
    if isinstance(err, _network_errors()):
        return DataError(
            source,
            None,
            f"the Hub could not be reached ({type(err).__name__}: {message})",
            "a network connection (and HF_HUB_OFFLINE unset), a dataset in the local cache, or a local file",
        )
    if isinstance(err, datasets.exceptions.DatasetNotFoundError):
        return DataError(source, None, f"not a local file or folder, and not a Hub dataset ({message})", HUB_EXPECTED)
    return DataError(source, None, f"cannot load the Hub dataset ({type(err).__name__}: {message})", HUB_EXPECTED)


def _load_hub(source: str, dataset_config: str | None, options: ReadOptions, report: LoadReport) -> dict[str, Dataset]:
    try:
        loaded = datasets.load_dataset(source, dataset_config)
    except Exception as err:  # classified by _hub_error; nothing is turned into a traceback
        raise _hub_error(source, dataset_config, err) from err
    return _convert_dataset_dict(loaded, source, options, report)


def _names_text_column(path: Path, options: ReadOptions) -> bool:
    """Whether a TSV file's first line is a header naming the text column (GoEmotions files have no header)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        names = [name.strip() for name in handle.readline().lstrip("\ufeff").split("\t")]
    return options.text_column in names


def _split_files(folder: Path) -> dict[str, Path]:
    """The data files of a folder named after a split (`train.csv`, `validation.tsv`, `dev.jsonl`, ...), by split."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        split = _SPLIT_ALIASES.get(path.stem.lower())
        if split is None or path.suffix.lower() not in FILE_FORMATS or not path.is_file():
            continue
        if split in found:
            raise DataError(folder, None, f"two {split} files ({found[split].name}, {path.name})", "one file per split")
        found[split] = path
    return found


def _load_folder(folder: Path, options: ReadOptions, report: LoadReport) -> dict[str, Dataset]:
    goemotions_train = folder / GOEMOTIONS_FILES["train"]
    if goemotions_train.is_file() and not _names_text_column(goemotions_train, options):
        return read_goemotions_folder(folder, options, report)
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        return _convert_dataset_dict(datasets.load_from_disk(str(folder)), str(folder), options, report)
    files = _split_files(folder)
    if files:
        return {split: read_data_file(split, path, options, report) for split, path in files.items()}
    raise DataError(
        folder,
        None,
        "the folder holds neither train.tsv, split files nor a saved dataset",
        "a GoEmotions folder (train.tsv, dev.tsv, test.tsv), a folder of split files with a header (train.tsv, "
        "validation.tsv, test.tsv, or .csv / .jsonl / .json) or a folder written by save_to_disk",
    )


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
    2. A folder with ``train.tsv`` without a header: GoEmotions format (text, comma-separated label ids,
       comment id kept as ``id``); ``train.tsv``, ``dev.tsv`` and ``test.tsv`` become train, validation
       and test.
    3. A folder written by ``save_to_disk`` (a Dataset becomes train; a DatasetDict's ``dev`` and
       ``valid`` splits count as validation).
    4. A folder of split files with a header, named after their split (``train.tsv``, ``validation.tsv``
       or ``dev.csv``, ``test.jsonl``, ...; a ``train.tsv`` is one when its first line names the text
       column), e.g. the CARER folder with ``train.tsv`` and ``validation.tsv``.
    5. A ``.csv`` / ``.tsv`` file with a header, or a ``.jsonl`` / ``.json`` file: the training data.
    6. Anything else is a Hub dataset id, loaded with ``datasets.load_dataset(source, dataset_config)``.

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
    options = ReadOptions(
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
    splits = add_missing_splits(splits, validation_size, test_size, seed, report)
    dataset_dict = DatasetDict({split: splits[split] for split in SPLITS if split in splits})
    report.num_rows = {split: len(dataset) for split, dataset in dataset_dict.items()}
    return (dataset_dict, report) if return_report else dataset_dict


def _read_splits(
    source: str | os.PathLike[str] | None,
    given: dict[str, str | os.PathLike[str]],
    dataset_config: str | None,
    options: ReadOptions,
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
        return {split: read_data_file(split, Path(path).expanduser(), options, report) for split, path in given.items()}
    if source == DEMO_SOURCE:
        with as_file(resource(DEMO_DATA)) as demo:
            return {"train": read_data_file("train", demo, options, report)}
    if source is None:
        raise GoEmoXUsageError("pass a source (file, folder, 'demo' or Hub dataset id) or split files")
    folder = Path(source).expanduser()
    if folder.is_dir():
        return _load_folder(folder, options, report)
    return _load_hub(os.fspath(source), dataset_config, options, report)


def _is_data_file(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a data file (existing, or with a data file extension)."""
    path = Path(source).expanduser()
    return path.is_file() or (path.suffix.lower() in FILE_FORMATS and not path.is_dir())
