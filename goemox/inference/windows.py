"""Token windows of texts longer than `max_length`: which text each window belongs to, taken from a fast
tokenizer's overflowing tokens, and each text's logits from its windows'. Shared by the prediction runtimes
(`goemox.inference.predictor`) and the attributions (`goemox.inference.attribution`); numpy only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np


class Windows(NamedTuple):
    """The token windows of a batch of texts, as a predictor's `_encode` returns them.

    Attributes:
        features: the model inputs, one row per window (`input_ids`, `attention_mask`, ...), unpadded.
        text_of_window: the index of each window's text; a text's windows are consecutive, in order.
        cut: per text, whether it is longer than one window.
    """

    features: dict[str, list[list[int]]]
    text_of_window: np.ndarray
    cut: np.ndarray


def first_windows(text_of_window: np.ndarray) -> np.ndarray:
    """The index of each text's first window (a text's windows being consecutive).

    Example:

    ```python
    >>> first_windows(np.array([0, 0, 1, 2, 2, 2])).tolist()
    [0, 2, 3]
    ```"""
    return np.flatnonzero(np.r_[True, text_of_window[1:] != text_of_window[:-1]])


def overflow_windows(encoded: Mapping[str, list], every_window: bool) -> Windows:
    """`Windows` from a tokenizer's output with overflowing tokens (`overflow_to_sample_mapping` beside the inputs,
    as transformers' fast tokenizers give it).

    Args:
        encoded: the tokenizer's output, every window of every text.
        every_window: keep every window (`window`), or only each text's first (`truncate`).
    """
    text_of_window = np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64)
    features = {name: rows for name, rows in encoded.items() if name != "overflow_to_sample_mapping"}
    firsts = first_windows(text_of_window)
    cut = np.diff(np.r_[firsts, len(text_of_window)]) > 1
    if not every_window:
        features = {name: [rows[i] for i in firsts] for name, rows in features.items()}
        text_of_window = text_of_window[firsts]
    return Windows(features, text_of_window, cut)


def aggregate_windows(logits: np.ndarray, text_of_window: np.ndarray, aggregation: str) -> np.ndarray:
    """Each text's logits from its windows' logits: per label, the `max` or the `mean` over its windows.

    Logits, not probabilities, are aggregated: the max is the same either way (the sigmoid is increasing), and both
    the max and the mean of logits commute with the per-label increasing affine calibration folded into the model,
    so the out-of-domain score and the stored cutoff, read from the logits before calibration, stay coherent.

    Args:
        logits: shape (windows, labels).
        text_of_window: the text of each window, non-decreasing, every text from 0 on present.
        aggregation: `"max"` or `"mean"`.

    Example:

    ```python
    >>> aggregate_windows(np.array([[1.0], [3.0], [0.5]]), np.array([0, 0, 1]), "mean")
    array([[2. ],
           [0.5]])
    ```"""
    starts = first_windows(text_of_window)
    if len(starts) == len(logits):
        return logits
    if aggregation == "max":
        return np.maximum.reduceat(logits, starts, axis=0)
    counts = np.diff(np.r_[starts, len(logits)]).astype(logits.dtype)
    return np.add.reduceat(logits, starts, axis=0) / counts[:, None]
