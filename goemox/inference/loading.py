"""Loading a saved model for prediction on either backend, with every way it can fail said in one line."""

from __future__ import annotations

from pathlib import Path

from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier

BACKENDS = ("torch", "onnx")
PRECISIONS = ("fp32", "int8")


def load_classifier(
    model: str, max_length: int = 128, batch_size: int = 64, backend: str = "torch", precision: str = "fp32"
) -> EmotionClassifier:
    """Load a model for prediction, turning a missing or invalid folder into a plain message.

    Args:
        model: a saved model folder or Hub id (torch), or a `goemox export onnx` folder (onnx).
        max_length: longest input in tokens.
        batch_size: texts per forward pass.
        backend: `"torch"` or `"onnx"`.
        precision: the ONNX model to run, `"fp32"` or `"int8"` (onnx only).

    Example:

    ```python
    >>> classifier = load_classifier("runs/demo")  # doctest: +SKIP
    ```"""
    if max_length < 1 or batch_size < 1:
        raise GoEmoXUsageError(f"--max_length and --batch_size must be at least 1, got {max_length} and {batch_size}")
    if backend == "onnx":
        from goemox.inference.onnx import OnnxEmotionClassifier

        if not Path(model).is_dir():
            raise GoEmoXUsageError(f"{model}: no such folder (the onnx backend reads a `goemox export onnx` folder)")
        return OnnxEmotionClassifier.from_pretrained(
            model, precision=precision, max_length=max_length, batch_size=batch_size
        )
    if precision != "fp32":
        raise GoEmoXUsageError(f"--precision {precision} needs --backend onnx (the torch backend runs fp32)")
    if Path(model).exists() and not (Path(model) / "config.json").is_file():
        raise GoEmoXUsageError(f"{model}: not a saved model folder (no config.json)")
    try:
        return EmotionClassifier.from_pretrained(model, max_length=max_length, batch_size=batch_size)
    except OSError as err:
        raise GoEmoXUsageError(f"could not load the model {model!r}: {err}") from None
