"""Loading a saved model for prediction on either backend, with every way it can fail said in one line; the
`--long_text` options of the commands that load one (and of `goemox train`, which stores them)."""

from __future__ import annotations

from dataclasses import field

from goemox.errors import GoEmoXUsageError
from goemox.inference.onnx import OnnxEmotionClassifier
from goemox.inference.predictor import LONG_TEXT_AGGREGATIONS, LONG_TEXT_MODES, EmotionPredictor, LongText

BACKENDS = ("torch", "onnx")

LONG_TEXT_HELP = {
    "long_text": "How a text longer than --max_length tokens is read: truncate (its beginning; the texts cut are "
    "counted) or window (whole, in overlapping windows of --max_length tokens, each scored, all batched together).",
    "long_text_stride": "With --long_text window: tokens shared by consecutive windows (default 32, at most half a "
    "window).",
    "long_text_aggregation": "With --long_text window: a label's score over a text's windows, max (a label stated "
    "anywhere counts, default) or mean.",
}
LONG_TEXT_CHOICES = {"long_text": LONG_TEXT_MODES, "long_text_aggregation": LONG_TEXT_AGGREGATIONS}


def long_text_field(name: str, training: bool = False):
    """The `--long_text`, `--long_text_stride` or `--long_text_aggregation` option (default `None`: the model's
    stored setting; for `goemox train`, nothing stored).

    Args:
        name: the option's name without dashes.
        training: the option of `goemox train`, which stores it in the model's config as its default.
    """
    note = (
        " Stored in the model's config.json as the default of predict, evaluate, analyze and the demo."
        if training
        else " Default: the model's stored setting."
    )
    metadata = {"help": LONG_TEXT_HELP[name] + note}
    if name in LONG_TEXT_CHOICES:
        metadata["choices"] = list(LONG_TEXT_CHOICES[name])
    return field(default=None, metadata=metadata)


def load_classifier(
    model: str,
    max_length: int = 128,
    batch_size: int = 64,
    backend: str = "torch",
    precision: str = "fp32",
    allow_pickle_weights: bool = False,
    device: str | None = None,
    long_text: LongText | str | None = None,
) -> EmotionPredictor:
    """Load a model for prediction, turning a missing or invalid folder into a plain message. The onnx backend
    imports neither torch nor transformers.

    Args:
        model: a saved model folder or Hub id (torch), or a `goemox export onnx` folder (onnx).
        max_length: longest input in tokens.
        batch_size: texts per forward pass.
        backend: `"torch"` or `"onnx"`.
        precision: the ONNX model to run, `"fp32"` or `"int8"` (onnx only).
        allow_pickle_weights: also read `pytorch_model.bin` weights (torch only; pickles can run code).
        device: where the torch model runs, e.g. `"cuda:1"` (default: CUDA when available); onnx runs on the CPU.
        long_text: how texts longer than `max_length` are read (see `LongText`); `None`: the model's setting.

    Example:

    ```python
    >>> classifier = load_classifier("runs/demo")  # doctest: +SKIP
    ```"""
    if max_length < 1 or batch_size < 1:
        raise GoEmoXUsageError(f"--max_length and --batch_size must be at least 1, got {max_length} and {batch_size}")
    if backend == "onnx":
        return OnnxEmotionClassifier.from_pretrained(
            model, precision=precision, max_length=max_length, batch_size=batch_size, long_text=long_text
        )
    if precision != "fp32":
        raise GoEmoXUsageError(f"--precision {precision} needs --backend onnx (the torch backend runs fp32)")
    from goemox.inference.classifier import EmotionClassifier

    return EmotionClassifier.from_pretrained(
        model,
        device=device,
        max_length=max_length,
        batch_size=batch_size,
        long_text=long_text,
        allow_pickle_weights=allow_pickle_weights,
    )
