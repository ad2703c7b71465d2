"""Prediction with a saved model: `EmotionClassifier` (PyTorch), `OnnxEmotionClassifier` (onnxruntime, no torch)
and the pieces it is built from, their shared batching and long-text reading (`EmotionPredictor`, `LongText`),
loading either with one-line errors (`load_classifier`), word attributions, and the files of `goemox predict`
(prediction files, resumable shards).

Example:

```python
>>> from goemox.inference import EmotionClassifier
>>> clf = EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
>>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
['praise', 'joy']
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "EmotionClassifier",
    "EmotionPrediction",
    "EmotionPredictor",
    "LabelExplanation",
    "LongText",
    "OnnxEmotionClassifier",
    "StoredConfig",
    "TokenizerFile",
    "load_classifier",
    "merge_shards",
    "onnx_session",
    "predict_shards",
    "write_predictions",
]

_LAZY = {
    "EmotionClassifier": "goemox.inference.classifier",
    "EmotionPrediction": "goemox.inference.predictor",
    "EmotionPredictor": "goemox.inference.predictor",
    "OnnxEmotionClassifier": "goemox.inference.onnx",
    "load_classifier": "goemox.inference.loading",
    "LongText": "goemox.inference.predictor",
    "StoredConfig": "goemox.inference.onnx",
    "TokenizerFile": "goemox.inference.onnx",
    "onnx_session": "goemox.inference.onnx",
    "LabelExplanation": "goemox.inference.attribution",
    "write_predictions": "goemox.inference.io",
    "predict_shards": "goemox.inference.sharding",
    "merge_shards": "goemox.inference.sharding",
}


__getattr__ = lazy_names(__name__, _LAZY)
