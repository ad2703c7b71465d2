"""Prediction with a saved model: `EmotionClassifier` (PyTorch), `OnnxEmotionClassifier` (onnxruntime), loading
either with one-line errors (`load_classifier`), and the file formats of `goemox predict`.

Example:

```python
>>> from goemox.inference import EmotionClassifier
>>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
>>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
['praise', 'joy']
```"""

from goemox.inference.classifier import EmotionClassifier, EmotionPrediction

__all__ = ["EmotionClassifier", "EmotionPrediction", "OnnxEmotionClassifier", "load_classifier"]


def __getattr__(name: str):
    """`OnnxEmotionClassifier` and `load_classifier` on first use (onnxruntime is an optional dependency)."""
    if name == "OnnxEmotionClassifier":
        from goemox.inference.onnx import OnnxEmotionClassifier

        return OnnxEmotionClassifier
    if name == "load_classifier":
        from goemox.inference.loading import load_classifier

        return load_classifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
