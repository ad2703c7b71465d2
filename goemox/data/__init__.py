"""Labelled texts: reading files and datasets into splits, splitting, tokenizing, text sources and statistics.

Example:

```python
>>> from goemox.data import load_emotion_dataset
>>> splits = load_emotion_dataset("demo", scheme="ten")
>>> sorted(splits)
['test', 'train', 'validation']
```"""

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

_LAZY = {
    "SPLITS": "goemox.data.loading",
    "load_emotion_dataset": "goemox.data.loading",
    "LoadReport": "goemox.data.readers",
    "label_matrix": "goemox.data.readers",
    "multilabel_stratified_split": "goemox.data.splitting",
    "tokenize_dataset": "goemox.data.tokenize",
}


def __getattr__(name: str):
    """The names above, imported on first use: reading a text file for `goemox predict` does not load `datasets`."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
