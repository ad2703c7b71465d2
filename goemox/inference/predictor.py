"""What every prediction runtime shares: tokenized, length-sorted batches, the model's stored thresholds and
out-of-domain cutoff, and the prediction objects. It needs neither torch nor transformers, so the ONNX runtime path
(`goemox.inference.onnx`) stays light; `EmotionClassifier` (PyTorch) and `OnnxEmotionClassifier` build on it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from goemox.errors import GoEmoXUsageError
from goemox.inference.attribution import WordAttribution
from goemox.inference.windows import Windows, aggregate_windows
from goemox.labels import LabelScheme, get_label_scheme
from goemox.scores import (
    apply_thresholds,
    has_stored_thresholds,
    ood_scores,
    sigmoid,
    stored_ood_cutoff,
    stored_ood_score,
    stored_thresholds,
)

LONG_TEXT_MODES = ("truncate", "window")
"""How a text longer than `max_length` tokens is read: its beginning only, or whole in overlapping windows."""

LONG_TEXT_AGGREGATIONS = ("max", "mean")
"""How the windows' logits of one text become its logits."""

DEFAULT_LONG_TEXT_STRIDE = 32
"""Tokens shared by consecutive windows unless set (at most half a window's text tokens)."""

LONG_TEXT_CONFIG_KEYS = {"mode": "long_text", "stride": "long_text_stride", "aggregation": "long_text_aggregation"}
"""`LongText` field -> the config key that stores it as the model's default."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LongText:
    """How texts longer than `max_length` tokens are read; a field left `None` takes the model's stored default
    (config keys `long_text`, `long_text_stride`, `long_text_aggregation`), else `truncate`.

    With `window`, a long text is cut into windows of `max_length` tokens, consecutive windows sharing `stride`
    tokens, every window is scored, and each label's logit is the `max` (a label stated anywhere counts) or the
    `mean` over the text's windows. A text that fits in `max_length` tokens is one window: its scores are the same
    under either mode.

    Attributes:
        mode: `"truncate"` (the text's beginning) or `"window"`.
        stride: tokens shared by consecutive windows (`window` only; default 32, at most half a window's text).
        aggregation: `"max"` or `"mean"` (`window` only; default `max`).

    Example:

    ```python
    >>> LongText("window").resolved(config=None, max_length=128, special_tokens=2)
    LongText(mode='window', stride=32, aggregation='max')
    ```"""

    mode: str | None = None
    stride: int | None = None
    aggregation: str | None = None

    @classmethod
    def of(cls, options: Any) -> LongText:
        """The settings of a command's `long_text`, `long_text_stride` and `long_text_aggregation` options.

        Example:

        ```python
        >>> LongText.of(SavedModelArguments("runs/demo", long_text="window"))  # doctest: +SKIP
        LongText(mode='window', stride=None, aggregation=None)
        ```"""
        return cls(options.long_text, options.long_text_stride, options.long_text_aggregation)

    def stored_settings(self) -> dict[str, Any]:
        """The config keys of the fields that are set, to store them as a model's default."""
        return {LONG_TEXT_CONFIG_KEYS[name]: value for name, value in asdict(self).items() if value is not None}

    def resolved(self, config: Any, max_length: int, special_tokens: int) -> LongText:
        """Every field set: the given ones, else the config's, else the defaults, all checked.

        Args:
            config: the model's config (`None`: no stored default).
            max_length: the longest input in tokens.
            special_tokens: the tokens the tokenizer adds to a text (`[CLS]` and `[SEP]`: 2).

        Raises:
            GoEmoXUsageError: one line naming the option (or the config key) with a bad value, or a stride or
                aggregation given for a model that truncates.
        """
        text_tokens = max_length - special_tokens
        if text_tokens < 1:
            raise GoEmoXUsageError(
                f"--max_length {max_length} leaves no token of text after the tokenizer's {special_tokens} special "
                "tokens"
            )
        mode = self.setting(config, "mode", LONG_TEXT_MODES, "truncate")
        if mode == "truncate":
            for name in ("stride", "aggregation"):
                if getattr(self, name) is not None:
                    raise GoEmoXUsageError(
                        f"--{LONG_TEXT_CONFIG_KEYS[name]} applies to --long_text window, but this model truncates "
                        "long texts (pass --long_text window too)"
                    )
            return LongText("truncate")
        stride = self.setting(config, "stride", None, min(DEFAULT_LONG_TEXT_STRIDE, text_tokens // 2))
        if stride >= text_tokens:
            less = f" less {special_tokens} special tokens" if special_tokens else ""
            raise GoEmoXUsageError(
                f"--long_text_stride {stride} must be below the {text_tokens} text tokens of a window (--max_length "
                f"{max_length}{less}), so that each window moves on"
            )
        return LongText("window", stride, self.setting(config, "aggregation", LONG_TEXT_AGGREGATIONS, "max"))

    def setting(self, config: Any, name: str, choices: Sequence[str] | None, default: Any) -> Any:
        """One field: given, else stored in `config`, else `default`; checked against `choices` (`None`: a whole
        number of at least 0), with an error naming the option or the config key it came from."""
        key = LONG_TEXT_CONFIG_KEYS[name]
        value, source = getattr(self, name), f"--{key}"
        if value is None:
            value, source = getattr(config, key, None), f"the model's config.json {key}"
        if value is None:
            return default
        if choices is None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise GoEmoXUsageError(f"{source} must be a whole number of at least 0, got {value!r}")
        elif value not in choices:
            raise GoEmoXUsageError(f"{source} must be one of {', '.join(choices)}, got {value!r}")
        return value


ROBERTA_LIKE = ("roberta", "xlm-roberta", "camembert", "longformer")
"""Encoders whose positions start after the pad token's, so that they take `max_position_embeddings - pad - 1`."""


def token_limit(config: Any) -> int | None:
    """The longest input a model's encoder takes, from its config (a goemox model: its encoder's; a config read by
    transformers or the plain `config.json` the ONNX backend reads).

    Args:
        config: the model's or encoder's config.

    Returns:
        `max_position_embeddings`, less RoBERTa's position offset; `None` when the config states no limit.

    Example:

    ```python
    >>> token_limit({"model_type": "bert", "max_position_embeddings": 512})
    512
    ```"""

    def read(key: str) -> Any:
        return config.get(key) if isinstance(config, dict) else getattr(config, key, None)

    if read("model_type") == "goemox":
        config = read("encoder")
    positions = read("max_position_embeddings")
    if isinstance(positions, bool) or not isinstance(positions, int):
        return None
    if read("model_type") in ROBERTA_LIKE:
        positions -= (read("pad_token_id") or 0) + 1
    return positions


@dataclass(frozen=True)
class LongTextReport:
    """What one prediction call did with long texts, and the settings it ran with.

    Attributes:
        mode: `"truncate"` or `"window"`.
        stride: tokens shared by consecutive windows (`None` under `truncate`).
        aggregation: `"max"` or `"mean"` (`None` under `truncate`).
        max_length: the longest input in tokens (of each window).
        texts: the texts predicted.
        long_texts: those longer than `max_length` tokens: cut to their beginning (`truncate`) or read in several
            windows (`window`).
        windows: the rows the network ran on (`texts` under `truncate`).
    """

    mode: str
    stride: int | None
    aggregation: str | None
    max_length: int
    texts: int
    long_texts: int
    windows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line on the long texts, for logs and command output.

        Example:

        ```python
        >>> LongTextReport("truncate", None, None, 128, texts=5, long_texts=2, windows=5).describe()
        '2 of 5 texts are longer than 128 tokens and were cut to their beginning (--long_text window reads them whole)'
        ```"""
        start = f"{self.long_texts} of {self.texts} texts are longer than {self.max_length} tokens and were"
        if self.mode == "truncate":
            return f"{start} cut to their beginning (--long_text window reads them whole)"
        return (
            f"{start} read in overlapping windows ({self.windows} windows, {self.aggregation} of each label's logits)"
        )


@dataclass
class EmotionPrediction:
    """What the model says about one text.

    Attributes:
        labels: the labels whose probability reaches their threshold, most probable first.
        scores: every label's sigmoid probability, in the model's label order.
        unfamiliar: whether the text looks unlike the training domain (its OOD score, by default its highest
            probability, falls below the model's stored `ood_cutoff`); `None` when the model stores no cutoff.
        explanation: label -> the words that pushed it most, strongest first, for each of `labels` (set by
            `EmotionClassifier.add_explanations`, as `goemox predict --explain` does); `None` when not asked.
    """

    labels: list[str]
    scores: dict[str, float]
    unfamiliar: bool | None = None
    explanation: dict[str, list[WordAttribution]] | None = None


class EmotionPredictor:
    """Batched multi-label prediction, whatever runs the network.

    Texts are tokenized once, sorted by length so each batch carries little padding, and returned in the input
    order. A text longer than `max_length` tokens is truncated, or read in overlapping windows (`long_text`: see
    `LongText`); the windows of all texts are batched together, and each text gets one row. A subclass says how texts
    become token windows (`_encode`), how a batch of them is padded (`_pad`) and how a padded batch becomes logits
    (`_forward`), and sets `tokenizer` before calling this constructor.

    After each call, `long_text_report` (a `LongTextReport`) says how many texts were long and how many windows ran.

    Args:
        config: the model config with the label names (`id2label`), `thresholds`, `ood_cutoff` and the stored
            `long_text` settings.
        max_length: longest input in tokens (of each window, with `window`).
        batch_size: windows per forward pass.
        long_text: `"truncate"`, `"window"` or a `LongText`; `None` (or a field left `None`): the model's stored
            setting, else `truncate`.

    Example:

    ```python
    >>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
    >>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
    ['praise', 'joy']
    ```"""

    def __init__(
        self, config: Any, max_length: int = 128, batch_size: int = 64, long_text: LongText | str | None = None
    ):
        self.config = config
        limit = token_limit(config)
        if limit is not None and max_length > limit:
            raise GoEmoXUsageError(
                f"--max_length {max_length} is above the {limit} tokens the model's encoder takes; pass --max_length "
                f"{limit} or less (--long_text window reads longer texts whole)"
            )
        self.max_length = max_length
        self.batch_size = batch_size
        requested = long_text if isinstance(long_text, LongText) else LongText(long_text)
        self.long_text = requested.resolved(config, max_length, self._special_tokens())
        self.long_text_report: LongTextReport | None = None
        self.label_names = [self.config.id2label[i] for i in range(len(self.config.id2label))]
        self.thresholds = stored_thresholds(self.config)
        self.thresholds_origin = (
            "stored thresholds" if has_stored_thresholds(self.config) else "threshold 0.5 (the model stores none)"
        )
        self.ood_cutoff = stored_ood_cutoff(self.config)
        self.ood_score = stored_ood_score(self.config)

    def label_scheme(self, scheme: str | LabelScheme | None = None) -> LabelScheme:
        """The scheme that maps data labels onto the model's labels: the one given, the one stored with the model,
        or (for a model without one) its own label names.

        Args:
            scheme: a scheme name, JSON mapping path or scheme; `None` for the model's own.

        Raises:
            GoEmoXUsageError: when the scheme's labels are not the model's.
        """
        if scheme is not None:
            resolved = scheme if isinstance(scheme, LabelScheme) else get_label_scheme(scheme)
        elif getattr(self.config, "label_scheme", None):
            resolved = LabelScheme.from_dict(self.config.label_scheme)
        else:
            names = tuple(self.label_names)
            resolved = LabelScheme(name="model", labels=names, mapping={n: (n,) for n in names}, source_labels=names)
        if list(resolved.labels) != self.label_names:
            raise GoEmoXUsageError(
                f"label scheme {resolved.name!r} has labels {list(resolved.labels)}, but the model predicts "
                f"{self.label_names}"
            )
        return resolved

    def _special_tokens(self) -> int:
        """The tokens the tokenizer adds to one text."""
        raise NotImplementedError

    def _encode(self, texts: list[str], stride: int | None) -> Windows:
        """The windows of `max_length` tokens of each text, consecutive ones sharing `stride` tokens; with `stride`
        `None` (`truncate`), only each text's first."""
        raise NotImplementedError

    def _pad(self, features: list[dict[str, list[int]]]):
        """One padded batch from the rows' features, in the form `_forward` takes."""
        raise NotImplementedError

    def _forward(self, batch) -> np.ndarray:
        """Logits of one padded batch, shape (rows, num_labels)."""
        raise NotImplementedError

    def explain(self, *args, **kwargs):
        """Word attributions need the network's gradients, which only the PyTorch `EmotionClassifier` has (see its
        `explain` and `add_explanations`).

        Raises:
            GoEmoXUsageError: always, here; `EmotionClassifier` overrides it.
        """
        raise GoEmoXUsageError(
            f"{type(self).__name__} cannot explain predictions: integrated gradients need the network's gradients, "
            "which an ONNX graph run by onnxruntime does not give; explain with the PyTorch model folder the export "
            "was made from (the torch backend)"
        )

    add_explanations = explain

    def predict_logits(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Raw logits, shape (len(texts), num_labels), rows in input order (with `window`, each label's logit
        aggregated over the text's windows)."""
        texts = list(texts)
        mode = self.long_text.mode
        if not texts:
            self.report_long_texts(0, 0, 0)
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        windows = self._encode(texts, self.long_text.stride if mode == "window" else None)
        encoded = windows.features
        order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
        logits = np.empty((len(order), len(self.label_names)), dtype=np.float32)
        starts = range(0, len(order), self.batch_size)
        for start in tqdm(starts, desc="Predicting", unit="batch", disable=not show_progress):
            rows = order[start : start + self.batch_size]
            features = [{key: encoded[key][i] for key in encoded} for i in rows]
            logits[rows] = self._forward(self._pad(features))
        self.report_long_texts(len(texts), int(windows.cut.sum()), len(order))
        if mode == "truncate":
            return logits
        return aggregate_windows(logits, windows.text_of_window, self.long_text.aggregation)

    def report_long_texts(self, texts: int, long_texts: int, windows: int) -> LongTextReport:
        """Keep (as `long_text_report`) and log what a call with these counts did with long texts."""
        self.long_text_report = LongTextReport(
            **asdict(self.long_text), max_length=self.max_length, texts=texts, long_texts=long_texts, windows=windows
        )
        if long_texts:
            logger.info("%s", self.long_text_report.describe())
        return self.long_text_report

    def predict_proba(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Sigmoid probabilities, shape (len(texts), num_labels), rows in input order."""
        logits = self.predict_logits(texts, show_progress=show_progress)
        return sigmoid(logits)

    def predict(
        self,
        texts: Sequence[str],
        *,
        thresholds: Sequence[float] | float | None = None,
        ensure_top_label: bool = False,
        show_progress: bool = False,
    ) -> list[EmotionPrediction]:
        """Label sets and scores for a batch of texts.

        Args:
            texts: the texts.
            thresholds: one value or one per label; defaults to the model's stored thresholds.
            ensure_top_label: give a text whose scores all fall below threshold its most probable label.
            show_progress: show a progress bar over batches.
        """
        logits = self.predict_logits(texts, show_progress=show_progress)
        probs = sigmoid(logits)
        familiarity = None if self.ood_cutoff is None else ood_scores(logits, self.ood_score, self.config)
        chosen = apply_thresholds(probs, self.thresholds if thresholds is None else thresholds, ensure_top_label)
        predictions = []
        for row, (row_probs, row_chosen) in enumerate(zip(probs, chosen)):
            picked = sorted(np.flatnonzero(row_chosen), key=lambda i: -row_probs[i])
            predictions.append(
                EmotionPrediction(
                    labels=[self.label_names[i] for i in picked],
                    scores={name: float(p) for name, p in zip(self.label_names, row_probs)},
                    unfamiliar=None if familiarity is None else bool(familiarity[row] < self.ood_cutoff),
                )
            )
        return predictions
