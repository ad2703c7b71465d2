"""What `train`, `search` and the benchmarks set up alike before training: the labelled splits (one corpus or
several pooled), the several-corpora options of the Trainer, padding buckets within `--max_length`, and the merge of
splits for a final training run.

Example:

```python
>>> from goemox.labels import get_label_scheme
>>> from goemox.training import DataArguments, load_data
>>> splits, report = load_data(DataArguments(dataset="demo", scheme="ten"), get_label_scheme("ten"))
>>> sorted(splits)
['test', 'train', 'validation']
```"""

from __future__ import annotations

import logging
from dataclasses import replace

from datasets import DatasetDict, concatenate_datasets

from goemox.data import LoadReport, load_emotion_dataset
from goemox.data.corpora import MASK_COLUMN, SOURCE_COLUMN, combine_sources, load_source, source_summary
from goemox.errors import DataError, GoEmoXUsageError
from goemox.evaluation.metrics import make_compute_metrics
from goemox.labels import LabelScheme
from goemox.training.arguments import DataArguments
from goemox.training.collator import bucket_lengths
from goemox.training.training_args import GoEmoXTrainingArguments

logger = logging.getLogger(__name__)

MIN_ROWS_PER_SPLIT = 1
"""Rows every loaded split must hold."""


def load_data(data_args: DataArguments, scheme: LabelScheme) -> tuple[DatasetDict, LoadReport]:
    """Load the labelled splits and apply the optional seeded subsets; refuse splits without rows.

    With several corpora (`--source`), the splits pool every source's rows with their `label_mask` and `source_id`
    (see :func:`load_sources`), and the report's `sources` maps split -> the source names it holds."""
    if data_args.datasets:
        return load_sources(data_args, scheme)
    splits, report = load_emotion_dataset(scheme=scheme, return_report=True, **data_args.load_options())
    limits = {
        "train": data_args.max_train_samples,
        "validation": data_args.max_eval_samples,
        "test": data_args.max_eval_samples,
    }
    for name, limit in limits.items():
        if limit is not None and name in splits and len(splits[name]) > limit:
            splits[name] = splits[name].shuffle(seed=data_args.split_seed).select(range(limit))
    for name in ("train", "validation"):
        if name not in splits:
            raise GoEmoXUsageError(f"the data has no {name} split")
    for name, split in splits.items():
        if len(split) < MIN_ROWS_PER_SPLIT:
            raise DataError(
                report.sources.get(name, name),
                None,
                f"the {name} split has {len(split)} labelled rows (a header only, an empty file, or every row skipped)",
                f"at least {MIN_ROWS_PER_SPLIT} row per split for training",
            )
    return splits, report


def load_sources(data_args: DataArguments, scheme: LabelScheme) -> tuple[DatasetDict, LoadReport]:
    """Every `--source` corpus read into the target scheme and pooled; each is checked before any training."""
    specs = data_args.source_specs()
    loaded = [load_source(spec, scheme, needs_validation=data_args.train_on == "train") for spec in specs]
    for source in loaded:
        logger.info(
            "Source %s: %s rows, annotates %d of %d labels",
            source.spec.name,
            ", ".join(f"{split} {len(rows)}" for split, rows in source.splits.items()),
            len(source.annotated),
            scheme.num_labels,
        )
    splits = combine_sources(loaded, scheme)
    report = LoadReport(
        sources={split: ", ".join(s.spec.name for s in loaded if split in s.splits) for split in splits},
        num_rows={split: len(rows) for split, rows in splits.items()},
        duplicates_dropped=sum(source.report.duplicates_dropped for source in loaded),
    )
    return splits, report


def several_corpora_setup(
    data_args: DataArguments, training_args: GoEmoXTrainingArguments, raw: DatasetDict, scheme: LabelScheme
) -> tuple[list[dict] | None, GoEmoXTrainingArguments]:
    """For a `--source` run: the sources' summary, and training arguments that pass each row's label mask and source
    to the loss and the metrics and select on `--select_on`. One corpus: `(None, training_args)` unchanged."""
    if not data_args.datasets:
        return None, training_args
    sources = source_summary(data_args.source_specs(), raw, scheme.labels)
    selected = "macro_f1" if data_args.select_on == "pooled" else f"macro_f1_{data_args.select_on}"
    return sources, replace(
        training_args, label_names=["labels", MASK_COLUMN, SOURCE_COLUMN], metric_for_best_model=selected
    )


def sources_compute_metrics(sources: list[dict] | None, scheme: LabelScheme):
    """The Trainer's `compute_metrics` of a several-corpora run (pooled and per source), else `None` (the default)."""
    return make_compute_metrics(scheme.labels, [source["name"] for source in sources]) if sources else None


def buckets_within_max_length(
    training_args: GoEmoXTrainingArguments, data_args: DataArguments
) -> GoEmoXTrainingArguments:
    """The training arguments with `--pad_to_buckets` fitted to `--max_length` (see :func:`bucket_lengths`);
    unchanged without buckets.

    Args:
        training_args: the run's training arguments.
        data_args: holds `max_length`.

    Example:

    ```python
    >>> args = GoEmoXTrainingArguments("runs/x", pad_to_buckets=[16, 32, 64, 128])  # doctest: +SKIP
    >>> buckets_within_max_length(args, DataArguments(max_length=48)).pad_to_buckets  # doctest: +SKIP
    [16, 32, 48]
    ```"""
    if not training_args.pad_to_buckets:
        return training_args
    buckets = bucket_lengths(training_args.pad_to_buckets, data_args.max_length)
    logger.info("Batches padded to one of %s tokens", ", ".join(map(str, buckets)))
    return replace(training_args, pad_to_buckets=buckets)


def merge_for_final_training(
    raw: DatasetDict, train_on: str, training_args: GoEmoXTrainingArguments
) -> tuple[DatasetDict, GoEmoXTrainingArguments]:
    """Join the named splits into train; with nothing left to validate on, train for the fixed epoch count."""
    parts = train_on.split("+")
    if parts[0] != "train" or any(part not in raw for part in parts):
        raise GoEmoXUsageError(f"--train_on {train_on}: expected train, train+validation or train+validation+test")
    merged = DatasetDict({"train": concatenate_datasets([raw[part] for part in parts])})
    if "test" in raw and "test" not in parts:
        merged["test"] = raw["test"]
    if "test" in parts:
        logger.warning(
            "Training on %s: the test split is part of the training data, so test metrics of this model are NOT a "
            "held-out measurement (metrics.json marks them held_out: false).",
            train_on,
        )
    fixed = replace(
        training_args,
        eval_strategy="no",
        load_best_model_at_end=False,
        early_stopping_patience=0,
        metric_for_best_model=None,
    )
    return merged, fixed
