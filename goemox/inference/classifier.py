"""Prediction with a PyTorch model: `EmotionClassifier`, and the checks that turn a bad model folder into one line."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from goemox.errors import GoEmoXUsageError, first_line
from goemox.inference.attribution import DEFAULT_STEPS, LabelExplanation, integrated_gradients
from goemox.inference.predictor import EmotionPrediction, EmotionPredictor, LongText
from goemox.inference.windows import Windows, overflow_windows


class EmotionClassifier(EmotionPredictor):
    """Batched multi-label prediction with a saved goemox model (or any multi-label sequence classifier) in PyTorch.

    Batches are `EmotionPredictor`'s (tokenized once, length-sorted, input order kept) and run under
    `torch.inference_mode`. The windows of `long_text="window"` are the fast tokenizer's overflowing tokens
    (`return_overflowing_tokens`); a slow (Python) tokenizer only truncates.

    Args:
        model: a sequence-classification model with multi-label (sigmoid) outputs.
        tokenizer: its tokenizer.
        max_length: longest input in tokens (of each window, with `window`).
        batch_size: windows per forward pass.
        long_text: `"truncate"`, `"window"` or a `LongText`; `None`: the model's stored setting, else `truncate`.

    Example:

    ```python
    >>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
    >>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
    ['praise', 'joy']
    ```"""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer,
        max_length: int = 128,
        batch_size: int = 64,
        long_text: LongText | str | None = None,
    ):
        self.tokenizer = tokenizer
        super().__init__(model.config, max_length=max_length, batch_size=batch_size, long_text=long_text)
        self.model = model.eval()
        if self.long_text.mode == "window" and not tokenizer.is_fast:
            raise GoEmoXUsageError(
                "--long_text window needs a fast tokenizer (a tokenizer.json); this model's "
                f"{type(tokenizer).__name__} can only truncate"
            )

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        device: str | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        long_text: LongText | str | None = None,
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
            batch_size: windows per forward pass.
            long_text: how texts longer than `max_length` are read (see `LongText`); `None`: the model's setting.
            allow_pickle_weights: also read `pytorch_model.bin` weights (only from a source you trust).
            kwargs: passed to both `from_pretrained` calls (e.g. `revision`, `token`).

        Raises:
            GoEmoXUsageError: one line for a missing folder, a folder that is no saved model, pickle weights that
                were not allowed or hold more than tensors, damaged weights or a config that does not fit its labels.
        """
        check_model_source(name_or_path, allow_pickle_weights)
        safetensors_only = None if allow_pickle_weights else True
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                name_or_path, dtype=torch.float32, use_safetensors=safetensors_only, **kwargs
            )
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
            return cls(model.to(device), tokenizer, max_length=max_length, batch_size=batch_size, long_text=long_text)
        except GoEmoXUsageError:  # a --long_text setting that does not fit the model says so itself
            raise
        except pickle.UnpicklingError as err:  # torch's safe loading met something other than tensors
            found = [line for line in str(err).splitlines() if "GLOBAL" in line or "Unsupported" in line]
            reason = (found or [first_line(err)])[0].strip().rstrip(".")
            raise GoEmoXUsageError(
                f"{name_or_path}: the pickle weights were refused: they hold more than tensors ({reason}), which could "
                "run code while they load; goemox only reads pickle weights that are tensors alone: get the model as "
                "safetensors from a source you trust"
            ) from None
        except SafetensorError as err:
            raise GoEmoXUsageError(
                f"{name_or_path}: model.safetensors cannot be read ({first_line(err)}); the file is damaged or "
                "incomplete: save or download the model again"
            ) from None
        except OSError as err:
            raise GoEmoXUsageError(f"could not load the model {name_or_path!r}: {first_line(err)}") from None
        except ValueError as err:
            raise GoEmoXUsageError(f"{name_or_path}: not a usable model ({first_line(err)})") from None

    def _special_tokens(self) -> int:
        return self.tokenizer.num_special_tokens_to_add(pair=False)

    def _encode(self, texts: list[str], stride: int | None) -> Windows:
        if not self.tokenizer.is_fast:  # a Python tokenizer gives no windows of a batch: `truncate` only
            encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
            lengths = self.tokenizer(texts)["input_ids"]
            cut = np.array([len(ids) > self.max_length for ids in lengths])
            return Windows(dict(encoded), np.arange(len(texts)), cut)
        encoded = self.tokenizer(
            texts, truncation=True, max_length=self.max_length, stride=stride or 0, return_overflowing_tokens=True
        )
        return overflow_windows(encoded, every_window=stride is not None)

    def _pad(self, features: list[dict[str, list[int]]]):
        return self.tokenizer.pad(features, return_tensors="pt")

    def _forward(self, batch) -> np.ndarray:
        """Logits of one padded batch (a `BatchEncoding` of torch tensors)."""
        device = self.model.device
        with torch.inference_mode():
            return self.model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()

    def explain(
        self,
        texts: Sequence[str],
        labels: Sequence[str] | None = None,
        *,
        n_steps: int = DEFAULT_STEPS,
        show_progress: bool = False,
    ) -> list[dict[str, LabelExplanation]]:
        """Which words of each text pushed each label's logit, by integrated gradients over the input embeddings
        (see :mod:`goemox.inference.attribution`).

        Args:
            texts: the texts.
            labels: the labels to explain for every text; default: each text's predicted labels (at the stored
                thresholds, most probable first; a text with none gets an empty dict).
            n_steps: points of the integral (more: closer to exact, slower; each costs a forward and a backward
                pass).
            show_progress: show a progress bar over batches.

        Returns:
            Per text, label -> its explanation, in the order of `labels` (or of the prediction).

        Raises:
            GoEmoXUsageError: an unknown label, a tokenizer without character offsets, or `n_steps` below 1.

        Example:

        ```python
        >>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
        >>> clf.explain(["I am so furious right now"])[0]["anger"].top(1)  # doctest: +SKIP
        [WordAttribution(word='furious', start=8, end=15, attribution=1.9)]
        ```"""
        texts = list(texts)
        if labels is None:
            wanted = [prediction.labels for prediction in self.predict(texts)]
        else:
            unknown = [label for label in labels if label not in self.label_names]
            if unknown:
                raise GoEmoXUsageError(f"unknown label(s) {unknown}; the model predicts {self.label_names}")
            wanted = [list(dict.fromkeys(labels))] * len(texts)
        return self._explain(texts, wanted, n_steps, show_progress)

    def add_explanations(
        self,
        texts: Sequence[str],
        predictions: Sequence[EmotionPrediction],
        top_k: int = 5,
        *,
        n_steps: int = DEFAULT_STEPS,
        show_progress: bool = False,
    ) -> None:
        """Set each prediction's `explanation`: for each of its labels, the `top_k` words that pushed it most.

        Args:
            texts: the texts the predictions were made for.
            predictions: one per text (e.g. from `predict`, with any thresholds).
            top_k: words kept per label.
            n_steps: points of the integral (see `explain`).
            show_progress: show a progress bar over batches.

        Example:

        ```python
        >>> predictions = clf.predict(texts)  # doctest: +SKIP
        >>> clf.add_explanations(texts, predictions, top_k=3)  # doctest: +SKIP
        >>> predictions[0].explanation["anger"][0].word  # doctest: +SKIP
        'furious'
        ```"""
        explained = self._explain(list(texts), [p.labels for p in predictions], n_steps, show_progress)
        for prediction, row in zip(predictions, explained):
            prediction.explanation = {label: explanation.top(top_k) for label, explanation in row.items()}

    def _explain(
        self, texts: list[str], wanted: list[list[str]], n_steps: int, show_progress: bool
    ) -> list[dict[str, LabelExplanation]]:
        """Explanations of `wanted[i]`'s labels for `texts[i]`, all pairs batched together."""
        if n_steps < 1:
            raise GoEmoXUsageError(f"n_steps must be at least 1, got {n_steps}")
        if not getattr(self.tokenizer, "is_fast", False):
            raise GoEmoXUsageError(
                "explaining needs a fast tokenizer (its character offsets map tokens back to words); this model's "
                f"tokenizer is {type(self.tokenizer).__name__}"
            )
        pairs = [(i, label) for i, chosen in enumerate(wanted) for label in chosen]
        explanations = integrated_gradients(
            self.model,
            self.tokenizer,
            [texts[i] for i, _ in pairs],
            [label for _, label in pairs],
            self.label_names,
            max_length=self.max_length,
            n_steps=n_steps,
            batch_size=self.batch_size,
            stride=self.long_text.stride if self.long_text.mode == "window" else None,
            show_progress=show_progress,
        )
        results: list[dict[str, LabelExplanation]] = [{} for _ in texts]
        for (i, label), explanation in zip(pairs, explanations):
            results[i][label] = explanation
        return results


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
