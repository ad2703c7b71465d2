"""goemox: multi-label emotion classification with Hugging Face transformers.

Importing goemox registers its architecture with the Auto classes, so `pipeline("text-classification",
model=..., top_k=None)` and `AutoModelForSequenceClassification.from_pretrained` load goemox folders. It imports
neither torch nor transformers to do so (`goemox.registration`): the public names below load on first use, and the
ONNX runtime path never loads torch. The headline names, importable from the package root:

- `GoEmoXConfig`, `GoEmoXForSequenceClassification`: the model and its configuration.
- `GoEmoXTrainer`, `GoEmoXTrainingArguments`, `ModelArguments`, `DataArguments`, `run_training`: the trainer, its
  arguments and the training job (`goemox.training`).
- `EmotionClassifier`, `EmotionPrediction`, `OnnxEmotionClassifier`: the classifiers (`goemox.inference`).
- `load_emotion_dataset` (`goemox.data`): loading data.
- `LabelScheme`, `get_label_scheme` (`goemox.labels`): label schemes.

Every subpackage declares its own public names in its `__all__` (loaded on first use, as here); a name outside an
`__all__` is internal and may change.

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
    "DataArguments",
    "EmotionClassifier",
    "EmotionPrediction",
    "GoEmoXConfig",
    "GoEmoXForSequenceClassification",
    "GoEmoXTrainer",
    "GoEmoXTrainingArguments",
    "LabelScheme",
    "ModelArguments",
    "OnnxEmotionClassifier",
    "get_label_scheme",
    "load_emotion_dataset",
    "run_training",
]

_LAZY = {
    "GoEmoXConfig": "goemox.configuration_goemox",
    "GoEmoXForSequenceClassification": "goemox.modeling_goemox",
    "GoEmoXTrainer": "goemox.training.trainer",
    "GoEmoXTrainingArguments": "goemox.training.training_args",
    "ModelArguments": "goemox.training.arguments",
    "DataArguments": "goemox.training.arguments",
    "run_training": "goemox.training.train",
    "EmotionClassifier": "goemox.inference.classifier",
    "EmotionPrediction": "goemox.inference.predictor",
    "OnnxEmotionClassifier": "goemox.inference.onnx",
    "load_emotion_dataset": "goemox.data.loading",
    "LabelScheme": "goemox.labels",
    "get_label_scheme": "goemox.labels",
}


__getattr__ = lazy_names(__name__, _LAZY)
