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

from goemox.lazy_names import lazy_names

__all__ = ["EmotionClassifier", "EmotionPrediction", "EmotionPredictor", "OnnxEmotionClassifier", "load_classifier"]

_LAZY = {
    "EmotionClassifier": "goemox.inference.classifier",
    "EmotionPrediction": "goemox.inference.predictor",
    "EmotionPredictor": "goemox.inference.predictor",
    "OnnxEmotionClassifier": "goemox.inference.onnx",
    "load_classifier": "goemox.inference.loading",
}


__getattr__ = lazy_names(__name__, _LAZY)
