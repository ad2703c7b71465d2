"""Labelled texts: the data options every command shares, reading files and datasets into splits, splitting and
tokenizing, several corpora pooled in one run, the unlabelled texts and domains that analyses read, and statistics.

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
    "DataSourceArguments",
    "Domain",
    "LoadReport",
    "TextLoader",
    "TextSource",
    "combine_sources",
    "dataset_statistics",
    "label_matrix",
    "load_emotion_dataset",
    "load_source",
    "multilabel_stratified_split",
    "parse_domain",
    "parse_sources",
    "parse_text_source",
    "read_inputs",
    "tokenize_dataset",
    "write_stats_report",
]

_LAZY = {
    "DataSourceArguments": "goemox.data.arguments",
    "SPLITS": "goemox.data.loading",
    "load_emotion_dataset": "goemox.data.loading",
    "LoadReport": "goemox.data.readers",
    "label_matrix": "goemox.data.readers",
    "multilabel_stratified_split": "goemox.data.splitting",
    "tokenize_dataset": "goemox.data.tokenize",
    "parse_sources": "goemox.data.corpora",
    "load_source": "goemox.data.corpora",
    "combine_sources": "goemox.data.corpora",
    "TextLoader": "goemox.data.domains",
    "TextSource": "goemox.data.domains",
    "Domain": "goemox.data.domains",
    "parse_text_source": "goemox.data.domains",
    "parse_domain": "goemox.data.domains",
    "read_inputs": "goemox.data.text_files",
    "dataset_statistics": "goemox.data.stats",
    "write_stats_report": "goemox.data.stats_report",
}


__getattr__ = lazy_names(__name__, _LAZY)
