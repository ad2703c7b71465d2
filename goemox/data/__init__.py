"""Labelled texts: reading files and datasets into splits, splitting, tokenizing, text sources and statistics.

Example:

```python
>>> from goemox.data import load_emotion_dataset
>>> splits = load_emotion_dataset("demo", scheme="ten")
>>> sorted(splits)
['test', 'train', 'validation']
```"""

from goemox.data.loading import SPLITS, load_emotion_dataset
from goemox.data.readers import LoadReport, label_matrix
from goemox.data.splitting import multilabel_stratified_split
from goemox.data.tokenize import tokenize_dataset
from goemox.errors import DataError

__all__ = [
    "SPLITS",
    "DataError",
    "LoadReport",
    "label_matrix",
    "load_emotion_dataset",
    "multilabel_stratified_split",
    "tokenize_dataset",
]
