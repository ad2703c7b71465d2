"""Registering goemox's config and model with transformers' Auto classes, without importing torch to do it.

`import goemox` must stay light: the ONNX runtime path (`goemox predict --backend onnx`) runs without torch and
without transformers' modeling code. Yet after `import goemox`, `AutoConfig`, `AutoModelForSequenceClassification`
and `pipeline()` must load goemox folders. So goemox's entries are put into transformers' Auto mappings as
*placeholders* that import goemox's config and model files the first time a mapping is asked about them
(:class:`ResolvingEntries`): at once for the Auto modules already loaded, and for the others right after Python
imports them (:class:`RegisterOnImport`, an import hook that removes itself once both are done).

Registering at lookup time rather than at import time is what makes this safe: importing goemox's model files
while transformers is itself half-way through importing its Auto modules would meet half-initialised modules.

Example:

```python
>>> import goemox  # calls register_with_auto_classes()
>>> from transformers import AutoConfig
>>> AutoConfig.for_model("goemox").model_type
'goemox'
```"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable
from types import ModuleType

__all__ = [
    "register_with_auto_classes",
]

CONFIG_AUTO = "transformers.models.auto.configuration_auto"
MODEL_AUTO = "transformers.models.auto.modeling_auto"


def register_config() -> None:
    """Register `GoEmoXConfig` with `AutoConfig` (model type `goemox`)."""
    from transformers import AutoConfig

    from goemox.configuration_goemox import GoEmoXConfig

    AutoConfig.register(GoEmoXConfig.model_type, GoEmoXConfig, exist_ok=True)


def register_model() -> None:
    """Register `GoEmoXForSequenceClassification` with `AutoModelForSequenceClassification` (and the config)."""
    from transformers import AutoModelForSequenceClassification

    from goemox.configuration_goemox import GoEmoXConfig
    from goemox.modeling_goemox import GoEmoXForSequenceClassification

    register_config()
    AutoModelForSequenceClassification.register(GoEmoXConfig, GoEmoXForSequenceClassification, exist_ok=True)


class ResolvingEntries(dict):
    """The registry of a transformers Auto mapping (its `_extra_content` dict) holding a placeholder for goemox:
    the first lookup of goemox's key runs `resolve`, which registers the real class through the public
    `register` API, into this same dict.

    Args:
        entries: the registry's current entries (kept).
        is_goemox_key: whether a looked-up key is goemox's (`"goemox"`, or goemox's config class).
        resolve: registers goemox; run once.
    """

    def __init__(self, entries: dict, is_goemox_key: Callable[[object], bool], resolve: Callable[[], None]):
        super().__init__(entries)
        self.is_goemox_key = is_goemox_key
        self.resolve: Callable[[], None] | None = resolve

    def resolve_for(self, key: object) -> None:
        if self.resolve is not None and self.is_goemox_key(key):
            resolve, self.resolve = self.resolve, None
            resolve()

    def __contains__(self, key: object) -> bool:
        self.resolve_for(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.resolve_for(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.resolve_for(key)
        return super().get(key, default)


def is_goemox_model_type(key: object) -> bool:
    return key == "goemox"


def is_goemox_config_class(key: object) -> bool:
    module = sys.modules.get("goemox.configuration_goemox")
    return module is not None and key is getattr(module, "GoEmoXConfig", None)


def install_placeholder(mapping, is_goemox_key: Callable[[object], bool], register: Callable[[], None]) -> None:
    """Put goemox's placeholder into one Auto mapping, or register at once if the mapping has no registry dict."""
    entries = getattr(mapping, "_extra_content", None)
    if isinstance(entries, ResolvingEntries):
        return
    if not isinstance(entries, dict):  # a transformers release without the registry goemox knows: register now
        register()
        return
    mapping._extra_content = ResolvingEntries(entries, is_goemox_key, register)


def install_config_placeholder() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    install_placeholder(CONFIG_MAPPING, is_goemox_model_type, register_config)


def install_model_placeholder() -> None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    install_placeholder(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING, is_goemox_config_class, register_model)


PLACEHOLDERS: dict[str, Callable[[], None]] = {
    CONFIG_AUTO: install_config_placeholder,
    MODEL_AUTO: install_model_placeholder,
}
"""transformers Auto module -> how goemox's placeholder goes into it once it is loaded."""


class RunAfterLoading(importlib.abc.Loader):
    """A loader that executes a module with its own loader, then runs `action`.

    Args:
        loader: the module's real loader.
        action: called with no argument once the module has executed.
    """

    def __init__(self, loader: importlib.abc.Loader, action: Callable[[], None]):
        self.loader = loader
        self.action = action

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # source lookups (`inspect.getsource`) keep working
        self.loader.exec_module(module)
        self.action()

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


def find_with(finder, fullname: str, path, target) -> importlib.machinery.ModuleSpec | None:
    """What one `sys.meta_path` finder finds for a module (None for a finder without `find_spec`)."""
    find = getattr(finder, "find_spec", None)
    return find(fullname, path, target) if find is not None else None


class RegisterOnImport(importlib.abc.MetaPathFinder):
    """A `sys.meta_path` entry that installs goemox's placeholders after transformers' Auto modules load, then
    steps aside.

    Args:
        pending: transformers module name -> what to run once it has loaded.
    """

    def __init__(self, pending: dict[str, Callable[[], None]]):
        self.pending = dict(pending)
        self.lock = threading.Lock()

    def find_spec(self, fullname: str, path, target=None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.pending:
            return None
        spec = next(
            filter(None, (find_with(finder, fullname, path, target) for finder in sys.meta_path if finder is not self)),
            None,
        )
        if spec is None or spec.loader is None:
            return spec
        # `find_spec` may be asked without a module being imported after it (transformers probes modules), so the
        # registration is only marked done once the module has really executed.
        spec.loader = RunAfterLoading(spec.loader, lambda: self.done(fullname))
        return spec

    def done(self, fullname: str) -> None:
        """Install the placeholder for a module that has just executed; leave `sys.meta_path` once none waits."""
        with self.lock:
            action = self.pending.pop(fullname, None)
            if not self.pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        if action is not None:
            action()


def register_with_auto_classes() -> None:
    """Make transformers' Auto classes load goemox folders, importing nothing until they are asked to (see the module
    docstring).

    Example:

    ```python
    >>> register_with_auto_classes()  # safe to call again
    ```"""
    waiting = {name: action for name, action in PLACEHOLDERS.items() if name not in sys.modules}
    for name, action in PLACEHOLDERS.items():
        if name not in waiting:
            action()
    if waiting and not any(isinstance(finder, RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, RegisterOnImport(waiting))
