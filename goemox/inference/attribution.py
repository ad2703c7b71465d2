"""Which words made a PyTorch model say a label: integrated gradients over the input embeddings, merged into words.

Integrated gradients (Sundararajan et al., 2017) walks from a baseline input to the real one and adds up, for every
token, the gradient of the label's logit times the token embedding's change. Its attributions sum to the logit's
difference between input and baseline (*completeness*); the integral is approximated with `n_steps` Gauss-Legendre
points by captum's `LayerIntegratedGradients`, and what is left over is reported as `completeness_error`.

The baseline is the same text with every token except the special ones (`[CLS]`, `[SEP]`, ...) replaced by the pad
token, under the same attention mask and positions: "the text with its words taken out". Token attributions are
summed into the whitespace-separated words of the input, each with its character offsets, so `furious!!!` or an
emoji split into several tokens is one word, read as the user wrote it.

Importing this module loads no torch (torch and captum load when `integrated_gradients` runs), so the word types and
`DEFAULT_STEPS` are usable on the torch-free ONNX path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from goemox.inference.windows import Windows, first_windows, overflow_windows

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

DEFAULT_STEPS = 50
"""Points of the integral: with Gauss-Legendre points, 50 leave a completeness error of at most 1.3% of the logit's
change on the reference model's validation sentences (figures in BENCHMARKS.md)."""

COMPLETENESS_WARNING = 0.05
"""A completeness error above this share of the logit's change from baseline to input is logged as a warning."""


@dataclass
class WordAttribution:
    """One word of the input and how much it moved a label's logit.

    Attributes:
        word: the word as written in the input (`text[start:end]`).
        start: its first character's offset in the text.
        end: the offset after its last character.
        attribution: the sum of its tokens' attributions; positive pushes towards the label.
    """

    word: str
    start: int
    end: int
    attribution: float


@dataclass
class LabelExplanation:
    """Why a model gave one text one label's logit.

    Attributes:
        label: the label explained.
        logit: its logit on the text.
        baseline_logit: its logit on the baseline (the text's words replaced by padding).
        words: every word the model read, in text order, with its attribution.
        completeness_error: sum of the attributions minus (`logit` - `baseline_logit`): how far the integral's
            approximation is from exact.
        cut: the text was longer than the model's `max_length`, so some of its words were not explained: its last
            words under `truncate`; under `window`, the words outside the window explained.
        window: the window explained (0: the text's beginning). Under `long_text="window"` it is the window where the
            label's logit is highest: the one that gave the label its score with `max` aggregation (with `mean`, the
            score averages every window, and this is the window that pushed it most).
    """

    label: str
    logit: float
    baseline_logit: float
    words: list[WordAttribution]
    completeness_error: float
    cut: bool = False
    window: int = 0

    def top(self, k: int) -> list[WordAttribution]:
        """The (at most) `k` words that pushed most towards the label, strongest first; words that pushed against it
        are left out.

        Example:

        ```python
        >>> explanation.top(2)  # doctest: +SKIP
        [WordAttribution(word='furious!!!', start=8, end=18, attribution=2.1), ...]
        ```"""
        ranked = sorted((w for w in self.words if w.attribution > 0), key=lambda w: -w.attribution)
        return ranked[:k]


def word_spans(text: str) -> list[tuple[int, int]]:
    """The `(start, end)` character offsets of the whitespace-separated words of a text.

    Example:

    ```python
    >>> word_spans("so  furious!!")
    [(0, 2), (4, 13)]
    ```"""
    return [match.span() for match in re.finditer(r"\S+", text)]


def merge_into_words(
    text: str, offsets: Sequence[tuple[int, int]], token_attributions: Sequence[float]
) -> list[WordAttribution]:
    """Sum token attributions into the words of the text that the tokens came from.

    A token belongs to the word holding its first character; tokens without characters (special tokens, padding)
    belong to none. Words with no token (cut by truncation) are left out.

    Args:
        text: the input text.
        offsets: each token's `(start, end)` characters, as a fast tokenizer's `offset_mapping` gives them.
        token_attributions: each token's attribution.

    Example:

    ```python
    >>> merge_into_words("so furious", [(0, 0), (0, 2), (3, 7), (7, 10), (0, 0)], [0, 0.1, 1.0, 0.5, 0])
    [WordAttribution(word='so', start=0, end=2, attribution=0.1), WordAttribution(word='furious', start=3, end=10, attribution=1.5)]
    ```"""  # noqa: E501
    spans = word_spans(text)
    starts = np.array([start for start, _ in spans])
    totals: dict[int, float] = {}
    for (start, end), value in zip(offsets, token_attributions):
        if end <= start or not spans:
            continue
        word = int(np.searchsorted(starts, start, side="right")) - 1
        if word >= 0 and start < spans[word][1]:
            totals[word] = totals.get(word, 0.0) + float(value)
    return [
        WordAttribution(text[spans[i][0] : spans[i][1]], spans[i][0], spans[i][1], totals[i]) for i in sorted(totals)
    ]


def strongest_windows(
    windows: Windows, targets: Sequence[int], logits_of: Callable, tokenizer, batch_size: int, device
) -> np.ndarray:
    """For each text, the row of its window where the logit of its target label is highest (a text read in one
    window: that window, without running the model).

    Args:
        windows: every window of every text (`overflow_windows` with `every_window=True`, or only the first ones).
        targets: each text's label index.
        logits_of: the model's logits of a padded batch, given as `(input_ids, attention_mask[, token_type_ids])`.
        tokenizer: pads the windows.
        batch_size: windows per forward pass.
        device: where the model runs.
    """
    import torch

    firsts = first_windows(windows.text_of_window)
    if len(firsts) == len(windows.text_of_window):
        return firsts
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in windows.features]
    scores = np.empty(len(windows.text_of_window))
    with torch.no_grad():
        for start in range(0, len(scores), batch_size):
            rows = range(start, min(start + batch_size, len(scores)))
            batch = tokenizer.pad(
                [{name: windows.features[name][j] for name in names} for j in rows], return_tensors="pt"
            )
            logits = logits_of([batch[name].to(device) for name in names]).cpu().numpy()
            scores[start : start + len(rows)] = [
                logits[k, targets[windows.text_of_window[j]]] for k, j in enumerate(rows)
            ]
    ends = np.r_[firsts[1:], len(scores)]
    return np.array([first + int(np.argmax(scores[first:end])) for first, end in zip(firsts, ends)])


def integrated_gradients(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    labels: Sequence[str],
    label_names: Sequence[str],
    *,
    max_length: int = 128,
    n_steps: int = DEFAULT_STEPS,
    batch_size: int = 16,
    stride: int | None = None,
    show_progress: bool = False,
) -> list[LabelExplanation]:
    """Integrated gradients of one label's logit for each text, merged into words.

    Pairs are sorted by length and run `batch_size` at a time; each pair costs `n_steps` forward and backward
    passes, run `batch_size` rows at a time.

    Args:
        model: a sequence classifier returning logits; its input embeddings (`get_input_embeddings()`) are
            attributed.
        tokenizer: its fast tokenizer (the word offsets come from `offset_mapping`).
        texts: one text per explanation wanted (repeat a text to explain several labels).
        labels: the label to explain for each text.
        label_names: the model's labels, in output order.
        max_length: longest input in tokens; longer texts are truncated (and flagged `cut`).
        n_steps: Gauss-Legendre points of the integral.
        batch_size: texts (and rows of interpolated inputs) per forward pass.
        stride: with `long_text="window"`, the tokens shared by consecutive windows: a longer text is read in windows
            and each label is explained on the window where its logit is highest (see `LabelExplanation.window`);
            `None`: the first window only.
        show_progress: show a progress bar over batches.

    Returns:
        One explanation per text, in order.

    Example:

    ```python
    >>> integrated_gradients(model, tokenizer, ["so furious"], ["anger"], ["anger", "joy"])[0].top(1)  # doctest: +SKIP
    [WordAttribution(word='furious', start=3, end=10, attribution=2.3)]
    ```"""
    import torch
    from captum.attr import LayerIntegratedGradients

    windows = overflow_windows(
        tokenizer(
            list(texts),
            truncation=True,
            max_length=max_length,
            stride=stride or 0,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_overflowing_tokens=True,
        ),
        every_window=stride is not None,
    )
    targets = [list(label_names).index(label) for label in labels]
    device = next(model.parameters()).device

    def forward(input_ids, attention_mask, *extra):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if extra:
            inputs["token_type_ids"] = extra[0]
        return model(**inputs).logits

    chosen = strongest_windows(windows, targets, lambda batch: forward(*batch), tokenizer, batch_size, device)
    encoded = {name: [rows[j] for j in chosen] for name, rows in windows.features.items()}
    window_index = chosen - first_windows(windows.text_of_window)

    explainer = LayerIntegratedGradients(forward, model.get_input_embeddings())
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    results: list[LabelExplanation] = [None] * len(texts)  # type: ignore[list-item]
    batches = range(0, len(texts), batch_size)
    for start in tqdm(batches, desc="Explaining", unit="batch", disable=not show_progress):
        rows = [int(i) for i in order[start : start + batch_size]]
        features = [
            {"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i]} for i in rows
        ]
        if "token_type_ids" in encoded:
            for feature, i in zip(features, rows):
                feature["token_type_ids"] = encoded["token_type_ids"][i]
        batch = {key: value.to(device) for key, value in tokenizer.pad(features, return_tensors="pt").items()}
        width = batch["input_ids"].shape[1]
        special = torch.ones((len(rows), width), dtype=torch.bool, device=device)
        for row, i in enumerate(rows):
            mask = torch.tensor(encoded["special_tokens_mask"][i], dtype=torch.bool, device=device)
            if tokenizer.padding_side == "right":
                special[row, : len(mask)] = mask
            else:
                special[row, width - len(mask) :] = mask
        baseline = torch.where(special, batch["input_ids"], torch.full_like(batch["input_ids"], tokenizer.pad_token_id))
        extra = (batch["token_type_ids"],) if "token_type_ids" in batch else ()
        target = torch.tensor([targets[i] for i in rows], device=device)
        attributions, deltas = explainer.attribute(
            batch["input_ids"],
            baselines=baseline,
            target=target,
            additional_forward_args=(batch["attention_mask"], *extra),
            n_steps=n_steps,
            internal_batch_size=batch_size,
            return_convergence_delta=True,
        )
        with torch.no_grad():
            chosen = target.unsqueeze(1)
            logits = forward(batch["input_ids"], batch["attention_mask"], *extra).gather(1, chosen).squeeze(1)
            base = forward(baseline, batch["attention_mask"], *extra).gather(1, chosen).squeeze(1)
        per_token = attributions.sum(dim=-1).detach().cpu().numpy()
        for row, i in enumerate(rows):
            offsets = encoded["offset_mapping"][i]
            values = (
                per_token[row, : len(offsets)] if tokenizer.padding_side == "right" else per_token[row, -len(offsets) :]
            )
            results[i] = LabelExplanation(
                label=labels[i],
                logit=float(logits[row]),
                baseline_logit=float(base[row]),
                words=merge_into_words(texts[i], offsets, values),
                completeness_error=float(deltas[row]),
                cut=bool(windows.cut[i]),
                window=int(window_index[i]),
            )
    loose = sum(abs(e.completeness_error) > COMPLETENESS_WARNING * abs(e.logit - e.baseline_logit) for e in results)
    if loose:
        logger.warning(
            "%d of %d explanations miss completeness by more than %.0f%% of their logit change; more steps (n_steps, "
            "--explain_steps; now %d) make them closer to exact",
            loose,
            len(results),
            100 * COMPLETENESS_WARNING,
            n_steps,
        )
    return results
