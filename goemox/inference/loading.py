"""Loading a saved model for prediction on either backend, with every way it can fail said in one line."""

from __future__ import annotations

from goemox.errors import GoEmoXUsageError
from goemox.inference.onnx import OnnxEmotionClassifier
from goemox.inference.predictor import EmotionPredictor

BACKENDS = ("torch", "onnx")


def load_classifier(
    model: str,
    max_length: int = 128,
    batch_size: int = 64,
    backend: str = "torch",
    precision: str = "fp32",
    allow_pickle_weights: bool = False,
    device: str | None = None,
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

    Example:

    ```python
    >>> classifier = load_classifier("runs/demo")  # doctest: +SKIP
    ```"""
    if max_length < 1 or batch_size < 1:
        raise GoEmoXUsageError(f"--max_length and --batch_size must be at least 1, got {max_length} and {batch_size}")
    if backend == "onnx":
        return OnnxEmotionClassifier.from_pretrained(
            model, precision=precision, max_length=max_length, batch_size=batch_size
        )
    if precision != "fp32":
        raise GoEmoXUsageError(f"--precision {precision} needs --backend onnx (the torch backend runs fp32)")
    from goemox.inference.classifier import EmotionClassifier

    return EmotionClassifier.from_pretrained(
        model,
        device=device,
        max_length=max_length,
        batch_size=batch_size,
        allow_pickle_weights=allow_pickle_weights,
    )
