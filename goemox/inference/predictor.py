"""What every prediction runtime shares: tokenized, length-sorted batches, the model's stored thresholds and
out-of-domain cutoff, and the prediction objects. It needs neither torch nor transformers, so the ONNX runtime path
(`goemox.inference.onnx`) stays light; `EmotionClassifier` (PyTorch) and `OnnxEmotionClassifier` build on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from goemox.errors import GoEmoXUsageError
from goemox.inference.attribution import WordAttribution
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
    order. A subclass says how texts become token ids (`_encode`), how a batch of them is padded (`_pad`) and how a
    padded batch becomes logits (`_forward`).

    Args:
        config: the model config with the label names (`id2label`), `thresholds` and `ood_cutoff`.
        max_length: longest input in tokens; longer texts are truncated.
        batch_size: texts per forward pass.

    Example:

    ```python
    >>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
    >>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
    ['praise', 'joy']
    ```"""

    def __init__(self, config: Any, max_length: int = 128, batch_size: int = 64):
        self.config = config
        self.max_length = max_length
        self.batch_size = batch_size
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

    def _encode(self, texts: list[str]) -> dict[str, list[list[int]]]:
        """Token ids (and the other model inputs) of each text, truncated to `max_length`, unpadded."""
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
        """Raw logits, shape (len(texts), num_labels), rows in input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        encoded = self._encode(texts)
        order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
        logits = np.empty((len(texts), len(self.label_names)), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="Predicting", unit="batch", disable=not show_progress):
            rows = order[start : start + self.batch_size]
            features = [{key: encoded[key][i] for key in encoded} for i in rows]
            logits[rows] = self._forward(self._pad(features))
        return logits

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
