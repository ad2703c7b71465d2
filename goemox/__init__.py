"""goemox: multi-label emotion classification with Hugging Face transformers.

Importing goemox registers its architecture with the Auto classes, so `pipeline("text-classification",
model=..., top_k=None)` and `AutoModelForSequenceClassification.from_pretrained` load goemox folders. It imports
neither torch nor transformers to do so (`goemox.registration`): the public names below load on first use, and the
ONNX runtime path never loads torch. The public names, importable from the package root:

- `GoEmoXConfig`, `GoEmoXForSequenceClassification`: the model pair.
- `EmotionClassifier`, `EmotionPrediction` (`goemox.inference`), `OnnxEmotionClassifier` (`goemox.inference.onnx`).
- `load_emotion_dataset` (`goemox.data`), `get_label_scheme` (`goemox.labels`).

The `goemox` command is `goemox.cli:main` (`python -m goemox` runs it too).

Example:

```python
>>> import goemox
>>> clf = goemox.EmotionClassifier.from_pretrained("runs/demo")  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names
from goemox.registration import register_with_auto_classes

register_with_auto_classes()

__version__ = "0.1.0"
__all__ = [
    "EmotionClassifier",
    "EmotionPrediction",
    "GoEmoXConfig",
    "GoEmoXForSequenceClassification",
    "OnnxEmotionClassifier",
    "get_label_scheme",
    "load_emotion_dataset",
]

_LAZY = {
    "EmotionClassifier": "goemox.inference.classifier",
    "EmotionPrediction": "goemox.inference.predictor",
    "GoEmoXConfig": "goemox.configuration_goemox",
    "GoEmoXForSequenceClassification": "goemox.modeling_goemox",
    "OnnxEmotionClassifier": "goemox.inference.onnx",
    "load_emotion_dataset": "goemox.data.loading",
    "get_label_scheme": "goemox.labels",
}


__getattr__ = lazy_names(__name__, _LAZY)
