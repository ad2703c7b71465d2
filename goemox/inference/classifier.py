"""Prediction API: label sets chosen with the model's stored per-label thresholds, plus every score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PretrainedConfig, PreTrainedModel

from goemox.errors import GoEmoXUsageError
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
    """

    labels: list[str]
    scores: dict[str, float]
    unfamiliar: bool | None = None


class EmotionClassifier:
    """Batched multi-label prediction with a saved goemox model (or any multi-label sequence classifier).

    Texts are tokenized once, sorted by length so each batch carries little padding, run under
    `torch.inference_mode`, and returned in the input order.

    Subclasses that run the network elsewhere (e.g. `goemox.onnx_inference.OnnxEmotionClassifier`) pass
    `model=None` with the model's `config`, override `_forward`, and set `batch_tensor_type` to the tensor type
    their `_forward` takes.

    Args:
        model: a sequence-classification model with multi-label (sigmoid) outputs, or `None` with `config`.
        tokenizer: its tokenizer.
        max_length: longest input in tokens; longer texts are truncated.
        batch_size: texts per forward pass.
        config: the model config with the label names, `thresholds` and `ood_cutoff` (default: `model.config`).

    Example:

    ```python
    >>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
    >>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
    ['praise', 'joy']
    ```"""

    batch_tensor_type = "pt"

    def __init__(
        self,
        model: PreTrainedModel | None,
        tokenizer,
        max_length: int = 128,
        batch_size: int = 64,
        *,
        config: PretrainedConfig | None = None,
    ):
        if model is None and config is None:
            raise ValueError("EmotionClassifier needs a model or a config")
        self.model = model.eval() if model is not None else None
        self.config = config if config is not None else model.config
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.label_names = [self.config.id2label[i] for i in range(self.config.num_labels)]
        self.thresholds = stored_thresholds(self.config)
        self.thresholds_origin = (
            "stored thresholds" if has_stored_thresholds(self.config) else "threshold 0.5 (the model stores none)"
        )
        self.ood_cutoff = stored_ood_cutoff(self.config)
        self.ood_score = stored_ood_score(self.config)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        device: str | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        allow_pickle_weights: bool = False,
        **kwargs,
    ) -> EmotionClassifier:
        """Load a model folder or Hub id with `AutoModelForSequenceClassification` and its tokenizer.

        Weights are read from safetensors files only, unless `allow_pickle_weights` lets a folder holding just
        `pytorch_model.bin` (a pickle, which can run code while it loads) be read.

        Args:
            name_or_path: local folder or Hub repository id.
            device: e.g. `"cpu"` or `"cuda"`; defaults to CUDA when available.
            max_length: longest input in tokens.
            batch_size: texts per forward pass.
            allow_pickle_weights: also read `pytorch_model.bin` weights (only from a source you trust).
            kwargs: passed to both `from_pretrained` calls (e.g. `revision`, `token`).

        Raises:
            GoEmoXUsageError: one line for a missing folder, a folder that is no saved model, pickle weights that
                were not allowed, damaged weights or a config that does not fit its labels.
        """
        check_model_source(name_or_path, allow_pickle_weights)
        safetensors_only = None if allow_pickle_weights else True
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                name_or_path, dtype=torch.float32, use_safetensors=safetensors_only, **kwargs
            )
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
            return cls(model.to(device), tokenizer, max_length=max_length, batch_size=batch_size)
        except SafetensorError as err:
            raise GoEmoXUsageError(
                f"{name_or_path}: model.safetensors cannot be read ({first_line(err)}); the file is damaged or "
                "incomplete: save or download the model again"
            ) from None
        except OSError as err:
            raise GoEmoXUsageError(f"could not load the model {name_or_path!r}: {first_line(err)}") from None
        except ValueError as err:
            raise GoEmoXUsageError(f"{name_or_path}: not a usable model ({first_line(err)})") from None

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

    def predict_logits(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Raw logits, shape (len(texts), num_labels), rows in input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
        logits = np.empty((len(texts), len(self.label_names)), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="Predicting", unit="batch", disable=not show_progress):
            rows = order[start : start + self.batch_size]
            features = [{key: encoded[key][i] for key in encoded} for i in rows]
            logits[rows] = self._forward(self.tokenizer.pad(features, return_tensors=self.batch_tensor_type))
        return logits

    def _forward(self, batch) -> np.ndarray:
        """Logits of one padded batch (a `BatchEncoding` of `batch_tensor_type` tensors)."""
        device = self.model.device
        with torch.inference_mode():
            return self.model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()

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


def looks_local(name: str) -> bool:
    """Whether a model name was meant as a local folder rather than a Hub id (`name` or `owner/name`).

    It does when it is absolute, starts with `.` or `~`, holds a backslash or more than one `/`, or is
    `folder/name` with `folder` an existing folder.

    Args:
        name: what the user gave as the model.

    Example:

    ```python
    >>> looks_local("./runs/demo"), looks_local("google-bert/bert-base-uncased")
    (True, False)
    ```"""
    parts = name.split("/")
    if Path(name).is_absolute() or name.startswith((".", "~")) or "\\" in name or len(parts) > 2:
        return True
    return len(parts) == 2 and Path(parts[0]).is_dir()


def check_model_source(name: str, allow_pickle_weights: bool = False) -> None:
    """Refuse, in one line, a local model folder that cannot be loaded as it is.

    Args:
        name: a model folder or Hub id (a Hub id passes unchecked).
        allow_pickle_weights: accept a folder whose only weights are `pytorch_model.bin`.

    Raises:
        GoEmoXUsageError: a missing folder, a file, a folder without `config.json`, or pickle-only weights that
            were not allowed.
    """
    folder = Path(name).expanduser()
    if not folder.exists():
        if looks_local(name):
            raise GoEmoXUsageError(f"{name}: no such folder")
        return
    if not folder.is_dir():
        raise GoEmoXUsageError(f"{name}: not a folder; expected a saved model folder")
    if not (folder / "config.json").is_file():
        raise GoEmoXUsageError(f"{name}: not a saved model folder (no config.json)")
    has_safetensors = any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file()
    if not has_safetensors and any(folder.glob("pytorch_model*.bin")) and not allow_pickle_weights:
        raise GoEmoXUsageError(
            f"{name}: only pickle weights (pytorch_model.bin), which can run code while they load; save the model "
            "again with safetensors, or pass --allow_pickle_weights if you trust where it came from"
        )


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (library messages often add hints on further lines)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
