"""Drawing training rows from several corpora: temperature sampling over sources, with length grouping."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from goemox.errors import GoEmoXUsageError

MEGABATCH_BATCHES = 50
"""Length grouping sorts the draws within windows of this many batches (as transformers' LengthGroupedSampler)."""


def sampling_weights(source_ids: Sequence[int] | np.ndarray, temperature: float) -> np.ndarray:
    """Per-row sampling probabilities so that source `i` is drawn with `p_i ∝ n_i ** (1 / temperature)`.

    `temperature=1` keeps the sources' natural proportions; larger values flatten them (a small corpus is drawn
    more often); the rows of one source are equally likely.

    Args:
        source_ids: each training row's source.
        temperature: `T` above 0.

    Example:

    ```python
    >>> sampling_weights([0, 0, 0, 1], temperature=1e9).round(3).tolist()
    [0.167, 0.167, 0.167, 0.5]
    ```"""
    if not temperature > 0:
        raise GoEmoXUsageError(f"--source_temperature must be above 0, got {temperature}")
    ids = np.asarray(source_ids)
    _, positions, counts = np.unique(ids, return_inverse=True, return_counts=True)
    shares = counts.astype(np.float64) ** (1.0 / temperature)
    shares /= shares.sum()
    return (shares / counts)[positions]


class SourceTemperatureSampler(torch.utils.data.Sampler[int]):
    """Each epoch draws `len(source_ids)` rows with replacement by :func:`sampling_weights`, then (given lengths)
    sorts them by length within windows of `MEGABATCH_BATCHES` batches, longest window first, so that batches carry
    little padding. Seeded: epoch `e` of seed `s` always draws the same rows.

    Args:
        source_ids: each training row's source.
        temperature: `T` of `p_i ∝ n_i ** (1 / T)`.
        batch_size: rows per optimisation step (for the length windows).
        lengths: token counts of the rows, or `None` for no length grouping.
        seed: the training seed.

    Example:

    ```python
    >>> sampler = SourceTemperatureSampler([0, 0, 0, 1], temperature=2.0, batch_size=2, seed=0)
    >>> len(list(sampler))
    4
    ```"""

    def __init__(
        self,
        source_ids: Sequence[int] | np.ndarray,
        temperature: float,
        batch_size: int,
        lengths: Sequence[int] | None = None,
        seed: int = 0,
    ) -> None:
        self.weights = sampling_weights(source_ids, temperature)
        self.batch_size = batch_size
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.weights)

    def set_epoch(self, epoch: int) -> None:
        """Draw the rows of this epoch next (the Trainer calls it at each epoch start)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        drawn = generator.choice(len(self.weights), size=len(self.weights), replace=True, p=self.weights)
        if self.lengths is None:
            return iter(drawn.tolist())
        window = self.batch_size * MEGABATCH_BATCHES
        groups = [drawn[start : start + window] for start in range(0, len(drawn), window)]
        groups = [group[np.argsort(-self.lengths[group], kind="stable")] for group in groups]
        return iter(np.concatenate(groups).tolist())
