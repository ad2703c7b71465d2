"""`goemox data stats`: what a labelled data set looks like, per split, as numbers (stats.json), PNGs and report.md.

Per split: label frequencies, label cardinality (rows with 0, 1, 2, 3+ labels), label co-occurrence, token lengths
under a tokenizer with the share of rows longer than `max_length` (truncated in training), and the most frequent
emoji with the labels of the rows they appear in.

Emoji are found with the `regex` module's Unicode properties (UTS #51). An emoji is one of:

- a flag: a pair of regional indicator letters;
- a keycap: `#`, `*` or a digit, an optional U+FE0F, then U+20E3;
- a pictograph: a character with `Emoji_Presentation`, a non-ASCII `Emoji` character from U+2600 on (the symbol,
  dingbat and pictograph blocks, e.g. ❤ and ☺, which are drawn as emoji on most devices even without U+FE0F), or
  any non-ASCII `Emoji` character followed by U+FE0F (an emoji presentation sequence). Text-style signs such as ©,
  ™ and ‼ therefore count only when written with U+FE0F. A pictograph takes its skin-tone modifiers, variation
  selectors and tag characters with it, and zero-width-joiner sequences (👩‍💻) count as one emoji.

Variation selectors are dropped before counting, so ❤ and ❤️ are the same emoji; skin tones stay distinct.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import regex
from datasets import DatasetDict
from tqdm.auto import tqdm

from goemox.data.readers import label_matrix
from goemox.errors import GoEmoXUsageError

_NON_ASCII_EMOJI = r"[\p{Emoji}--[\x00-\x7F]]"
_PICTOGRAPH = r"[\p{Emoji_Presentation}[\p{Emoji}--[\x00-\u25FF]]]"
_ATTACHED = r"(?:\uFE0F|\p{Emoji_Modifier}|[\U000E0020-\U000E007F])*"
EMOJI_PATTERN = regex.compile(
    r"(?V1)\p{Regional_Indicator}{2}"
    r"|[#*0-9]\uFE0F?\u20E3"
    rf"|(?:{_PICTOGRAPH}|{_NON_ASCII_EMOJI}(?=\uFE0F)){_ATTACHED}(?:\u200D{_NON_ASCII_EMOJI}{_ATTACHED})*"
)
_VARIATION_SELECTORS = str.maketrans("", "", "\ufe0e\ufe0f")
_REGIONAL_A = 0x1F1E6
CARDINALITY_BUCKETS = ("0", "1", "2", "3+")


def find_emoji(text: str) -> list[str]:
    """The emoji of a text in order of appearance, variation selectors removed (see the module docstring).

    Example:
        >>> find_emoji("so proud 👩🏽‍💻 of you ❤️❤ 🇺🇸 #1 ™")
        ['👩🏽\u200d💻', '❤', '❤', '🇺🇸']
    """
    return [match.translate(_VARIATION_SELECTORS) for match in EMOJI_PATTERN.findall(text)]


def emoji_name(emoji: str) -> str:
    """A readable name: `flag US` for flags, else the Unicode names of its characters joined by ` + ` (skin-tone
    modifiers shortened to `skin tone type-N`).

    Characters newer than Python's Unicode database are shown as `U+XXXX`.
    """
    points = [ord(char) for char in emoji]
    if len(points) == 2 and all(_REGIONAL_A <= point < _REGIONAL_A + 26 for point in points):
        return "flag " + "".join(chr(ord("A") + point - _REGIONAL_A) for point in points)
    parts = [
        unicodedata.name(char, f"U+{ord(char):04X}").lower().replace("emoji modifier fitzpatrick ", "skin tone ")
        for char in emoji
        if char != "\u200d" and not 0xE0020 <= ord(char) <= 0xE007F
    ]
    return " + ".join(parts)


def label_cardinality(labels: np.ndarray) -> dict[str, dict[str, float]]:
    """Rows with 0, 1, 2 and 3+ labels: `{bucket: {"rows": count, "share": share of rows}}`.

    Args:
        labels: `(rows, labels)` 0/1 matrix.
    """
    per_row = (np.asarray(labels) > 0).sum(axis=1)
    counts = [
        int(np.sum(per_row == 0)),
        int(np.sum(per_row == 1)),
        int(np.sum(per_row == 2)),
        int(np.sum(per_row >= 3)),
    ]
    total = max(len(per_row), 1)
    return {bucket: {"rows": n, "share": n / total} for bucket, n in zip(CARDINALITY_BUCKETS, counts)}


def cooccurrence_counts(labels: np.ndarray) -> np.ndarray:
    """`(L, L)` matrix: cell (i, j) = rows carrying both label i and label j; the diagonal is each label's count."""
    positive = (np.asarray(labels) > 0).astype(np.int64)
    return positive.T @ positive


def token_lengths(texts: Sequence[str], tokenizer: Any, batch_size: int = 1024) -> np.ndarray:
    """Tokens per text, special tokens included and nothing truncated (what `max_length` is compared with)."""
    lengths: list[int] = []
    for start in tqdm(range(0, len(texts), batch_size), desc="Tokenizing", unit="batch", leave=False):
        batch = list(texts[start : start + batch_size])
        encoded = tokenizer(batch, return_attention_mask=False, return_token_type_ids=False, verbose=False)
        lengths += [len(ids) for ids in encoded["input_ids"]]
    return np.asarray(lengths, dtype=np.int64)


def length_summary(lengths: np.ndarray, max_length: int) -> dict[str, Any]:
    """Mean, percentiles, maximum, the rows longer than `max_length` and the histogram of token lengths."""
    if len(lengths) == 0:
        return {"rows": 0, "truncated_rows": 0, "truncated_share": 0.0, "histogram": {}}
    values, counts = np.unique(lengths, return_counts=True)
    truncated = int(np.sum(lengths > max_length))
    return {
        "rows": len(lengths),
        "mean": float(lengths.mean()),
        "median": float(np.median(lengths)),
        "p90": float(np.percentile(lengths, 90)),
        "p99": float(np.percentile(lengths, 99)),
        "max": int(lengths.max()),
        "max_length": max_length,
        "truncated_rows": truncated,
        "truncated_share": truncated / len(lengths),
        "histogram": {str(int(v)): int(c) for v, c in zip(values, counts)},
    }


def emoji_statistics(
    texts: Sequence[str], labels: np.ndarray, label_names: Sequence[str], top: int, tokenizer: Any = None
) -> dict[str, Any]:
    """Emoji counts and, for the `top` emoji found in most rows, the labels of those rows.

    Args:
        texts: the texts.
        labels: `(rows, labels)` 0/1 matrix.
        label_names: names of the label columns.
        top: how many emoji to describe.
        tokenizer: if given, each top emoji is marked with whether the tokenizer reads it as its unknown token.

    Returns:
        `rows_with_emoji`, `share_rows_with_emoji`, `occurrences`, `distinct` and `top`: a list of
        `{emoji, name, rows, occurrences, label_counts}` ordered by rows (then occurrences, then the emoji itself),
        where `label_counts` maps every label to the number of rows holding the emoji and that label.
    """
    positive = np.asarray(labels) > 0
    rows_by_emoji: dict[str, list[int]] = {}
    occurrences: Counter[str] = Counter()
    rows_with_emoji = 0
    for row, text in enumerate(texts):
        found = find_emoji(text)
        if not found:
            continue
        rows_with_emoji += 1
        occurrences.update(found)
        for emoji in dict.fromkeys(found):
            rows_by_emoji.setdefault(emoji, []).append(row)
    ranked = sorted(rows_by_emoji, key=lambda e: (-len(rows_by_emoji[e]), -occurrences[e], e))[:top]
    described = []
    for emoji in ranked:
        label_counts = positive[rows_by_emoji[emoji]].sum(axis=0)
        entry = {
            "emoji": emoji,
            "name": emoji_name(emoji),
            "rows": len(rows_by_emoji[emoji]),
            "occurrences": occurrences[emoji],
            "label_counts": {name: int(n) for name, n in zip(label_names, label_counts)},
        }
        if tokenizer is not None:
            entry["tokenizer_unknown"] = reads_as_unknown(tokenizer, emoji)
        described.append(entry)
    return {
        "rows_with_emoji": rows_with_emoji,
        "share_rows_with_emoji": rows_with_emoji / max(len(texts), 1),
        "occurrences": sum(occurrences.values()),
        "distinct": len(occurrences),
        "top": described,
    }


def reads_as_unknown(tokenizer: Any, text: str) -> bool:
    """Whether any token of `text` is the tokenizer's unknown token (the model cannot tell it from other unknowns)."""
    unknown = tokenizer.unk_token_id
    return unknown is not None and unknown in tokenizer(text, add_special_tokens=False)["input_ids"]


def split_statistics(
    texts: Sequence[str],
    labels: np.ndarray,
    label_names: Sequence[str],
    tokenizer: Any,
    max_length: int,
    top_emoji: int,
) -> dict[str, Any]:
    """Every statistic of one split (see the module docstring) as a JSON-ready dict."""
    counts = (np.asarray(labels) > 0).sum(axis=0)
    rows = len(texts)
    return {
        "rows": rows,
        "label_counts": {name: int(n) for name, n in zip(label_names, counts)},
        "label_shares": {name: int(n) / max(rows, 1) for name, n in zip(label_names, counts)},
        "cardinality": label_cardinality(labels),
        "mean_labels_per_row": float(counts.sum() / max(rows, 1)),
        "cooccurrence": cooccurrence_counts(labels).tolist(),
        "token_length": length_summary(token_lengths(texts, tokenizer), max_length),
        "emoji": emoji_statistics(texts, labels, label_names, top_emoji, tokenizer),
    }


def dataset_statistics(
    splits: DatasetDict,
    label_names: Sequence[str],
    tokenizer: Any,
    *,
    max_length: int = 128,
    top_emoji: int = 15,
    split_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Statistics of the chosen splits of a loaded data set.

    Args:
        splits: as returned by `goemox.data.load_emotion_dataset`.
        label_names: the label scheme's labels, in column order.
        tokenizer: a Hugging Face tokenizer.
        max_length: the training `max_length`; longer rows count as truncated.
        top_emoji: how many emoji to describe per split.
        split_names: which splits (default: all).

    Raises:
        GoEmoXUsageError: a requested split is not in the data.
    """
    names = list(split_names) if split_names else list(splits)
    missing = [name for name in names if name not in splits]
    if missing:
        raise GoEmoXUsageError(f"the data has no {missing[0]!r} split; it has {sorted(splits)}")
    result = {"labels": list(label_names), "max_length": max_length, "splits": {}}
    for name in names:
        data = splits[name]
        labels = label_matrix(data) if len(data) else np.zeros((0, len(label_names)))
        result["splits"][name] = split_statistics(
            list(data["text"]), labels, label_names, tokenizer, max_length, top_emoji
        )
    return result


# ------------------------------------------------------------------------------------------------
# Plots
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def top_pairs(counts: np.ndarray, label_names: Sequence[str], n: int = 10) -> list[tuple[str, str, int]]:
    """The `n` label pairs found together in most rows, as `(label, label, rows)` (ties in label order)."""
    matrix = np.asarray(counts)
    pairs = [
        (label_names[i], label_names[j], int(matrix[i, j]))
        for i in range(len(label_names))
        for j in range(i + 1, len(label_names))
        if matrix[i, j] > 0
    ]
    return sorted(pairs, key=lambda pair: -pair[2])[:n]
