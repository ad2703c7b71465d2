"""Labelled texts: reading files and datasets into splits, splitting, tokenizing, text sources and statistics.

Example:

```python
>>> from goemox.data import load_emotion_dataset
>>> splits = load_emotion_dataset("demo", scheme="ten")
>>> sorted(splits)
['test', 'train', 'validation']
```"""

from goemox.errors import DataError
from goemox.lazy_names import lazy_names

__all__ = [
    "SPLITS",
    "DataError",
    "LoadReport",
    "label_matrix",
    "load_emotion_dataset",
    "multilabel_stratified_split",
    "tokenize_dataset",
]

_LAZY = {
    "SPLITS": "goemox.data.loading",
    "load_emotion_dataset": "goemox.data.loading",
    "LoadReport": "goemox.data.readers",
    "label_matrix": "goemox.data.readers",
    "multilabel_stratified_split": "goemox.data.splitting",
    "tokenize_dataset": "goemox.data.tokenize",
}


__getattr__ = lazy_names(__name__, _LAZY)
