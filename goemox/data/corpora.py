"""Several labelled corpora in one run, each with its own label names and its own share of the target labels.

A run's sources come from the `datasets:` list of a config file or from repeated `--source` flags. Each entry holds
the data options of :class:`~goemox.data.arguments.DataSourceArguments` (a source inherits every option it does not
set from the run's own, except where the data is: `dataset` and the split files; the run's `max_train_samples` and
`max_eval_samples` apply to each source), plus:

- `name`: how reports and metrics name the source (letters, digits, `_`, `-`; unique in the run);
- `mapping`: the source's label names -> target labels (a YAML/JSON mapping inline, or a file holding one, or a
  scheme JSON with a `mapping` key); without it the run's scheme maps the names, as for a single corpus;
- `annotates`: the target labels the source's annotation speaks for. Default: the image of the label names its data
  uses, plus `known_negative`. A row's loss on every other target label is masked out;
- `known_negative`: target labels the source never uses but whose absence it does state (e.g. a corpus of
  emotional texts only, in which `neutral` never holds);
- `single_label`: also score the source as single-label (argmax over its annotated labels: accuracy, macro-F1);
- `max_train_samples` / `max_eval_samples`: seeded subsets of this source.

Example:

```python
>>> specs = parse_sources(["carer=../shared/data/carer"], DataSourceArguments())  # doctest: +SKIP
>>> specs[0].name, specs[0].options.dataset  # doctest: +SKIP
('carer', '../shared/data/carer')
```"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from datasets import Dataset, DatasetDict, Features, Value, concatenate_datasets
from datasets import Sequence as SequenceFeature

from goemox.data.arguments import SPLIT_FILES, DataSourceArguments
from goemox.data.loading import SPLITS, load_emotion_dataset
from goemox.data.readers import LoadReport
from goemox.errors import DataError, GoEmoXUsageError, LabelSchemeError
from goemox.file_io import read_mapping_file
from goemox.labels import LabelScheme

logger = logging.getLogger(__name__)

SOURCE_FIELDS = (
    "name",
    "mapping",
    "annotates",
    "known_negative",
    "single_label",
    "max_train_samples",
    "max_eval_samples",
)
"""The keys of a source entry besides the data options."""

WHERE_FIELDS = ("dataset", *SPLIT_FILES)
"""Data options a source never inherits from the run: where its rows are."""

MASK_COLUMN = "label_mask"
SOURCE_COLUMN = "source_id"
_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SourceSpec:
    """One labelled corpus of a run, as declared.

    Attributes:
        name: unique name in the run.
        options: where and how its rows are read.
        mapping: its label names -> target labels (`None`: the run's scheme maps them).
        annotates: the target labels it speaks for (`None`: the image of its labels plus `known_negative`).
        known_negative: target labels it states are absent.
        single_label: also scored as single-label.
        max_train_samples: seeded subset of its training rows.
        max_eval_samples: seeded subsets of its validation and test rows.
    """

    name: str
    options: DataSourceArguments
    mapping: dict[str, tuple[str, ...]] | None = None
    annotates: tuple[str, ...] | None = None
    known_negative: tuple[str, ...] = ()
    single_label: bool = False
    max_train_samples: int | None = None
    max_eval_samples: int | None = None


@dataclass
class LoadedSource:
    """A source's splits in the target scheme and the target labels it annotates (scheme order)."""

    spec: SourceSpec
    splits: DatasetDict
    report: LoadReport
    annotated: tuple[str, ...]


def read_source_entry(text: str) -> Any:
    """One `--source` value: a YAML/JSON file (one entry or a list), an inline YAML mapping `{name: x, dataset: y}`,
    or the short form `NAME=DATASET`.

    Example:

    ```python
    >>> read_source_entry("carer=../shared/data/carer")
    {'name': 'carer', 'dataset': '../shared/data/carer'}
    ```"""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return yaml.safe_load(stripped)
        except yaml.YAMLError as err:
            raise GoEmoXUsageError(
                f"--source {text}: not a valid YAML mapping ({' '.join(str(err).split())})"
            ) from None
    if Path(stripped).suffix.lower() in (".yaml", ".yml", ".json"):
        if not Path(stripped).is_file():
            raise GoEmoXUsageError(f"--source {text}: no such file")
        try:
            content = yaml.safe_load(Path(stripped).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            problem = " ".join(str(err).split())
            raise GoEmoXUsageError(f"--source {text}: not valid YAML/JSON ({problem})") from None
        return content.get("datasets", content) if isinstance(content, dict) else content
    name, equals, dataset = stripped.partition("=")
    if not equals or not name or not dataset:
        raise GoEmoXUsageError(
            f"--source {text}: expected NAME=DATASET, an inline YAML mapping {{name: ..., dataset: ...}}, or a "
            "YAML/JSON file of source entries"
        )
    return {"name": name, "dataset": dataset}


def parse_sources(entries: list[Any], defaults: DataSourceArguments) -> list[SourceSpec]:
    """The run's sources from `datasets:` entries (mappings) and `--source` strings.

    Args:
        entries: mappings as in a config file, or strings as given to `--source`.
        defaults: the run's data options, inherited by every source (all but `dataset` and the split files).

    Raises:
        GoEmoXUsageError: an unknown key, a bad value or a repeated name, naming the source and the field.
    """
    flat: list[Any] = []
    for entry in entries:
        entry = read_source_entry(entry) if isinstance(entry, str) else entry
        flat.extend(entry if isinstance(entry, list) else [entry])
    specs = [source_spec(entry, position, defaults) for position, entry in enumerate(flat, start=1)]
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise GoEmoXUsageError(f"datasets: two sources are named {repeated[0]!r}; expected a unique name per source")
    return specs


def source_spec(entry: Any, position: int, defaults: DataSourceArguments) -> SourceSpec:
    """One source entry (a mapping) checked and completed with the run's defaults."""
    if not isinstance(entry, dict):
        raise GoEmoXUsageError(f"datasets: entry {position} is {entry!r}; expected a mapping with name and dataset")
    data_fields = {item.name for item in fields(DataSourceArguments)}
    label = f"source {entry.get('name', position)!r}"
    unknown = sorted(str(key) for key in entry if key not in data_fields and key not in SOURCE_FIELDS)
    if unknown:
        raise GoEmoXUsageError(
            f"datasets: {label}: unknown field(s) {unknown}; expected data options ({', '.join(sorted(data_fields))}) "
            f"or {', '.join(SOURCE_FIELDS)}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise GoEmoXUsageError(
            f"datasets: source {position}: name is {name!r}; expected letters, digits, '_' or '-' (it names the "
            "source in metrics.json)"
        )
    label = f"source {name!r}"
    inherited = {item.name: getattr(defaults, item.name) for item in fields(DataSourceArguments)}
    inherited.update(dict.fromkeys(WHERE_FIELDS))
    given = {key: value for key, value in entry.items() if key in data_fields}
    if not any(given.get(key) for key in WHERE_FIELDS):
        raise GoEmoXUsageError(f"datasets: {label}: no dataset or train_file; expected where its rows are")
    try:
        options = DataSourceArguments(**{**inherited, **given})
    except (GoEmoXUsageError, TypeError) as err:
        raise GoEmoXUsageError(f"datasets: {label}: {err}") from None
    return SourceSpec(
        name=name,
        options=options,
        mapping=read_source_mapping(entry.get("mapping"), label),
        annotates=label_list(entry.get("annotates"), label, "annotates"),
        known_negative=label_list(entry.get("known_negative"), label, "known_negative") or (),
        single_label=bool(entry.get("single_label", False)),
        max_train_samples=positive_or_none(
            entry.get("max_train_samples", getattr(defaults, "max_train_samples", None)), label, "max_train_samples"
        ),
        max_eval_samples=positive_or_none(
            entry.get("max_eval_samples", getattr(defaults, "max_eval_samples", None)), label, "max_eval_samples"
        ),
    )


def read_source_mapping(value: Any, label: str) -> dict[str, tuple[str, ...]] | None:
    """A source's label mapping: inline, or a YAML/JSON file of `{name: target or [targets]}` (or a scheme JSON
    with a `mapping` key)."""
    if value is None:
        return None
    where = f"datasets: {label}: mapping"
    if isinstance(value, str):
        where = f"{where} {value}"
        value = read_mapping_file(value)
        value = value.get("mapping", value) if "mapping" in value and "labels" in value else value
    if not isinstance(value, dict) or not value:
        raise GoEmoXUsageError(f"{where}: expected a non-empty mapping of its label names to target labels")
    mapping = {}
    for name, targets in value.items():
        targets = [] if targets is None else [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, list) or not all(isinstance(target, str) for target in targets):
            raise GoEmoXUsageError(f"{where}: {name!r} maps to {targets!r}; expected a label name or a list of them")
        mapping[str(name)] = tuple(targets)
    return mapping


def label_list(value: Any, label: str, field_name: str) -> tuple[str, ...] | None:
    """A list of label names (a YAML list, or one comma-separated string)."""
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) and name.strip() for name in names):
        raise GoEmoXUsageError(f"datasets: {label}: {field_name} is {value!r}; expected a list of label names")
    return tuple(name.strip() for name in names)


def positive_or_none(value: Any, label: str, field_name: str) -> int | None:
    """An optional count of at least 1."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise GoEmoXUsageError(f"datasets: {label}: {field_name} is {value!r}; expected a whole number of at least 1")
    return value


def source_scheme(spec: SourceSpec, target: LabelScheme) -> LabelScheme:
    """The scheme a source's rows are read with: the target labels, and the source's mapping if it has one."""
    if spec.mapping is None:
        return target
    try:
        return LabelScheme(
            name=f"{spec.name}->{target.name}",
            labels=target.labels,
            mapping=spec.mapping,
            source_labels=tuple(dict.fromkeys([*target.source_labels, *spec.mapping])),
        )
    except LabelSchemeError as err:
        raise GoEmoXUsageError(
            f"datasets: source {spec.name!r}: {err} (target labels of scheme {target.name!r})"
        ) from None


def annotated_labels(spec: SourceSpec, scheme: LabelScheme, target: LabelScheme, report: LoadReport) -> tuple[str, ...]:
    """The target labels a source speaks for, in target order; checks `annotates` and `known_negative`."""
    label = f"datasets: source {spec.name!r}"
    for field_name, names in (("annotates", spec.annotates or ()), ("known_negative", spec.known_negative)):
        outside = [name for name in names if name not in target.labels]
        if outside:
            raise GoEmoXUsageError(
                f"{label}: {field_name} names {outside}, which are not labels of the target scheme {target.name!r} "
                f"({', '.join(target.labels)})"
            )
    image = set(scheme.map_names(report.label_counts))
    if spec.annotates is None:
        chosen = image | set(spec.known_negative)
    else:
        missing = sorted(image - set(spec.annotates))
        if missing:
            raise GoEmoXUsageError(
                f"{label}: its rows are labelled {missing}, which annotates leaves out; expected annotates to list "
                "every target label its labels map to"
            )
        chosen = set(spec.annotates) | set(spec.known_negative)
    return tuple(name for name in target.labels if name in chosen)


def load_source(spec: SourceSpec, target: LabelScheme, needs_validation: bool) -> LoadedSource:
    """Read one source into the target scheme, apply its subsets and check what the run needs of it."""
    scheme = source_scheme(spec, target)
    label = f"datasets: source {spec.name!r}"
    try:
        splits, report = load_emotion_dataset(scheme=scheme, return_report=True, **spec.options.load_options())
    except DataError as err:  # the file and line, prefixed with the source they belong to
        raise GoEmoXUsageError(f"{label}: {err}") from None
    if spec.mapping is not None:
        absent = [name for name in spec.mapping if name not in report.label_counts]
        if absent:
            raise GoEmoXUsageError(
                f"{label}: mapping names {absent}, which its data never uses (it uses {sorted(report.label_counts)}); "
                "expected label names of this source"
            )
    limits = {"train": spec.max_train_samples, "validation": spec.max_eval_samples, "test": spec.max_eval_samples}
    for split, limit in limits.items():
        if limit is not None and split in splits and len(splits[split]) > limit:
            splits[split] = splits[split].shuffle(seed=spec.options.split_seed).select(range(limit))
    for split in SPLITS:
        if split in splits and len(splits[split]) == 0:
            raise GoEmoXUsageError(
                f"{label}: its {split} split has no rows left after reading and mapping; expected at least one"
            )
    if "train" not in splits:
        raise GoEmoXUsageError(f"{label}: no train split; expected training rows")
    if needs_validation and "validation" not in splits:
        raise GoEmoXUsageError(
            f"{label}: no validation split, and selection needs one; expected a validation split, a validation_file "
            "or validation_size above 0"
        )
    annotated = annotated_labels(spec, scheme, target, report)
    if not annotated:
        raise GoEmoXUsageError(f"{label}: annotates no target label; expected labels that map into {target.name!r}")
    return LoadedSource(spec, splits, report, annotated)


def combine_sources(loaded: list[LoadedSource], target: LabelScheme) -> DatasetDict:
    """One DatasetDict over every source: `text`, `labels`, the 0/1 `label_mask` of the labels each row's source
    annotates, and `source_id` (the source's position in the run).

    Example:

    ```python
    >>> combined = combine_sources([load_source(spec, scheme, True) for spec in specs], scheme)  # doctest: +SKIP
    >>> combined["train"].column_names  # doctest: +SKIP
    ['text', 'labels', 'label_mask', 'source_id']
    ```"""
    unannotated = [name for name in target.labels if not any(name in source.annotated for source in loaded)]
    if unannotated:
        raise GoEmoXUsageError(
            f"datasets: no source annotates {unannotated} of the target scheme {target.name!r}, so the model would "
            "learn nothing about them; expected a scheme whose every label some source annotates (a smaller scheme, "
            "a scheme JSON file, or a source's annotates/known_negative)"
        )
    features = Features(
        {
            "text": Value("string"),
            "labels": SequenceFeature(Value("float32")),
            MASK_COLUMN: SequenceFeature(Value("float32")),
            SOURCE_COLUMN: Value("int32"),
        }
    )
    combined = {}
    for split in SPLITS:
        parts = []
        for position, source in enumerate(loaded):
            if split not in source.splits:
                continue
            part = source.splits[split]
            mask = [float(name in source.annotated) for name in target.labels]
            columns = {
                "text": part["text"],
                "labels": part["labels"],
                MASK_COLUMN: [mask] * len(part),
                SOURCE_COLUMN: [position] * len(part),
            }
            parts.append(Dataset.from_dict(columns, features=features))
        if parts:
            combined[split] = concatenate_datasets(parts)
    return DatasetDict(combined)


def source_summary(specs: list[SourceSpec], splits: DatasetDict, labels: tuple[str, ...]) -> list[dict[str, Any]]:
    """What `metrics.json` and the model card say of each source of pooled splits (see :func:`combine_sources`):
    name, dataset or split files (as given), the labels it annotates and its rows per split.

    Args:
        specs: the run's sources, in `source_id` order.
        splits: the pooled splits.
        labels: the target labels, in column order.
    """
    summary = []
    for position, spec in enumerate(specs):
        rows, annotates = {}, []
        for split, data in splits.items():
            ids = np.asarray(data[SOURCE_COLUMN])
            rows[split] = int((ids == position).sum())
            if rows[split] and not annotates:
                mask = data[int(np.flatnonzero(ids == position)[0])][MASK_COLUMN]
                annotates = [label for label, kept in zip(labels, mask) if kept]
        summary.append(
            {
                "name": spec.name,
                "dataset": None if spec.options.split_files() else spec.options.dataset,
                "files": spec.options.split_files(),
                "annotates": annotates,
                "single_label": spec.single_label,
                "rows": rows,
            }
        )
    return summary
