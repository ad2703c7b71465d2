"""Tokenizing loaded splits for the Trainer (no padding: the collator pads per batch)."""

from __future__ import annotations

from typing import Any

from datasets import DatasetDict, Value


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


def count_truncated(dataset_dict: DatasetDict, tokenizer: Any, max_length: int) -> dict[str, int]:
    """Number of texts per split longer than ``max_length`` tokens (special tokens included), which
    :func:`tokenize_dataset` cuts.

    Args:
        dataset_dict: Splits with a ``text`` column.
        tokenizer: A Hugging Face tokenizer.
        max_length: The length texts are cut at.

    Example:
        >>> count_truncated(splits, tokenizer, max_length=128)  # doctest: +SKIP
        {'train': 12, 'validation': 1, 'test': 2}
    """
    counts = {}
    for split, dataset in dataset_dict.items():
        texts = dataset["text"]
        lengths = [len(ids) for ids in tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]]
        counts[split] = sum(length > max_length for length in lengths)
    return counts
