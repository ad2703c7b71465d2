"""Padding batches to a few fixed lengths (`--pad_to_buckets`), so that batch shapes repeat.

A compiled model (`--torch_compile`, CUDA graphs) is built once per input shape; with dynamic padding every batch
length is a new shape, with buckets only a handful occur. Padding is masked, so the logits of a row do not depend
on how far its batch is padded (up to float rounding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase


def bucket_lengths(buckets: Sequence[int], max_length: int) -> list[int]:
    """The padded lengths a run uses: the sizes of `buckets` below `max_length`, then `max_length` itself.

    Texts are cut at `max_length` tokens, so it closes the list and no batch is longer; sizes above it could never
    be reached and are dropped.

    Args:
        buckets: increasing bucket sizes (`--pad_to_buckets`).
        max_length: the longest input in tokens (`--max_length`).

    Example:

    ```python
    >>> bucket_lengths([16, 32, 64, 128], 100)
    [16, 32, 64, 100]
    ```"""
    return [size for size in buckets if size < max_length] + [max_length]


def padded_length(longest: int, buckets: Sequence[int]) -> int:
    """The smallest bucket that holds `longest` tokens (`longest` itself when no bucket does).

    Args:
        longest: the batch's longest row, in tokens.
        buckets: increasing bucket sizes.

    Example:

    ```python
    >>> padded_length(20, [16, 32, 64]), padded_length(70, [16, 32, 64])
    (32, 70)
    ```"""
    return next((size for size in buckets if size >= longest), longest)


@dataclass
class BucketPaddingCollator:
    """The Trainer's `DataCollatorWithPadding`, but each batch is padded to the smallest of `buckets` that holds its
    longest row.

    A batch longer than every bucket is padded to its longest row; list `max_length` last (see
    :func:`bucket_lengths`) so that none is.

    Args:
        tokenizer: the tokenizer the rows were encoded with (its padding side and id are used).
        buckets: increasing padded lengths.
        return_tensors: `"pt"` or `"np"`.

    Example:

    ```python
    >>> collate = BucketPaddingCollator(tokenizer, buckets=(16, 32, 64, 128))  # doctest: +SKIP
    >>> collate([{"input_ids": [2, 7, 3]}, {"input_ids": [2, 3]}])["input_ids"].shape  # doctest: +SKIP
    torch.Size([2, 16])
    ```"""

    tokenizer: PreTrainedTokenizerBase
    buckets: Sequence[int]
    return_tensors: str = "pt"

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        longest = max(len(feature["input_ids"]) for feature in features)
        fixed = DataCollatorWithPadding(
            self.tokenizer,
            padding="max_length",
            max_length=padded_length(longest, self.buckets),
            return_tensors=self.return_tensors,
        )
        return fixed(features)
