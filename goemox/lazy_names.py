"""Package attributes imported on first use, so importing a package does not import what its names need."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "lazy_names",
]


def lazy_names(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` that imports each public name from its module the first time it is read.

    Args:
        package: the package's `__name__`, for the error message.
        modules: public name -> the module that defines it.

    Example:

    ```python
    >>> __getattr__ = lazy_names("goemox.data", {"load_emotion_dataset": "goemox.data.loading"})
    >>> __getattr__("load_emotion_dataset").__name__
    'load_emotion_dataset'
    ```"""

    def __getattr__(name: str) -> Any:
        if name in modules:
            return getattr(importlib.import_module(modules[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
