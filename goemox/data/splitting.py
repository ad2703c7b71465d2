"""Multi-label stratified splitting: carving validation and test splits out of the training rows."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from datasets import Dataset

from goemox.data.readers import LoadReport, label_matrix
from goemox.errors import DataError

logger = logging.getLogger(__name__)


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


def drop_exact_duplicates(dataset: Dataset, report: LoadReport) -> Dataset:
    """Keep the first of rows with the same text and labels, so no copy lands on both sides of a split.

    The count goes to ``report.duplicates_dropped`` and the ``goemox.data`` log.

    Args:
        dataset: Rows with ``text`` and ``labels`` columns.
        report: The load report that records the count.

    Example:
        >>> train = drop_exact_duplicates(splits["train"], report)  # doctest: +SKIP
    """
    seen: set[tuple[str, tuple[float, ...]]] = set()
    keep = []
    for row, (text, labels) in enumerate(zip(dataset["text"], dataset["labels"], strict=True)):
        key = (text, tuple(labels))
        if key not in seen:
            seen.add(key)
            keep.append(row)
    report.duplicates_dropped = len(dataset) - len(keep)
    if not report.duplicates_dropped:
        return dataset
    logger.info("Dropped %d exact duplicate row(s) (same text and labels) before splitting", report.duplicates_dropped)
    return dataset.select(keep)


def add_missing_splits(
    splits: dict[str, Dataset], validation_size: float, test_size: float, seed: int, report: LoadReport
) -> dict[str, Dataset]:
    """Carve the missing validation / test splits out of train with a stratified split, after dropping the exact
    duplicate rows of train (:func:`drop_exact_duplicates`).

    Raises:
        DataError: If train has too few rows to give every carved split at least one row.
    """
    missing = {
        name: size
        for name, size in (("validation", validation_size), ("test", test_size))
        if name not in splits and size > 0
    }
    if "train" not in splits or not missing:
        return splits
    train = drop_exact_duplicates(splits["train"], report)
    fractions = [1 - sum(missing.values()), *missing.values()]
    parts = multilabel_stratified_split(label_matrix(train), fractions, seed)
    result = {**splits, "train": train.select(parts[0])}
    for name, indices in zip(missing, parts[1:], strict=True):
        if len(indices) == 0:
            raise DataError(
                report.sources["train"],
                None,
                f"{len(train)} rows leave the {name} split empty",
                f"at least {math.ceil(1 / missing[name] - 1e-9)} training rows for {name}_size {missing[name]} "
                f"(a {name} file, or {name}_size 0 to leave it out)",
            )
        result[name] = train.select(indices)
        report.sources[name] = f"{report.sources['train']} (stratified {missing[name]:.0%} of train)"
    report.created_splits = tuple(missing)
    logger.info(
        "Split %d training rows into %s",
        len(train),
        ", ".join(f"{name}={len(result[name])}" for name in ("train", *missing)),
    )
    return result
