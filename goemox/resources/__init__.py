"""Files shipped with goemox: the demo training set, bias-probe templates and terms, the model card template.

Example:

```python
>>> from goemox.resources import demo_texts
>>> len(demo_texts())
403
```"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = [
    "DEMO_DATA",
    "MODEL_CARD_TEMPLATE",
    "demo_texts",
    "read_resource",
    "resource",
]

DEMO_DATA = "demo_emotions.jsonl"
"""The packaged demo training set (JSONL, `text` and `labels`), read as the data set `demo`."""
MODEL_CARD_TEMPLATE = "model_card_template.md"
"""The model card template `goemox.hub.render_model_card` fills in."""


def resource(name: str) -> Traversable:
    """A packaged file by name (use `importlib.resources.as_file` for a real path).

    Args:
        name: the file name inside `goemox/resources/`.
    """
    return files(__name__).joinpath(name)


def read_resource(name: str) -> str:
    """The UTF-8 text of a packaged file.

    Args:
        name: the file name inside `goemox/resources/`.
    """
    return resource(name).read_text(encoding="utf-8")


def demo_texts() -> list[str]:
    """The texts of the packaged demo set (403 short sentences written for goemox)."""
    return [json.loads(line)["text"] for line in read_resource(DEMO_DATA).splitlines() if line.strip()]
