"""Prediction with a saved model: `EmotionClassifier` (PyTorch), `OnnxEmotionClassifier` (onnxruntime, no torch),
their shared batching (`EmotionPredictor`), loading either with one-line errors (`load_classifier`), and the file
formats of `goemox predict`.

Example:

```python
>>> from goemox.inference import EmotionClassifier
>>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
>>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
['praise', 'joy']
```"""

__all__ = ["EmotionClassifier", "EmotionPrediction", "EmotionPredictor", "OnnxEmotionClassifier", "load_classifier"]

_LAZY = {
    "EmotionClassifier": "goemox.inference.classifier",
    "EmotionPrediction": "goemox.inference.predictor",
    "EmotionPredictor": "goemox.inference.predictor",
    "OnnxEmotionClassifier": "goemox.inference.onnx",
    "load_classifier": "goemox.inference.loading",
}


def __getattr__(name: str):
    """The names above on first use: the PyTorch classifier loads torch, the ONNX one only onnxruntime."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
