"""Publishing to the Hugging Face Hub: the exact repository folder, the model card and the one-commit push.

Example:

```python
>>> from goemox.hub import build_hub_folder, push_to_hub
>>> build_hub_folder("runs/demo", "runs/demo-hub").architecture  # doctest: +SKIP
'BertForSequenceClassification'
>>> push_to_hub("runs/demo", "me/goemox-demo")  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "HubFolder",
    "ModelCardCallback",
    "ModelCardOptions",
    "PublishedResult",
    "build_hub_folder",
    "push_to_hub",
    "read_published_results",
    "render_model_card",
]

_LAZY = {
    "HubFolder": "goemox.hub.folder",
    "build_hub_folder": "goemox.hub.folder",
    "ModelCardCallback": "goemox.hub.model_card",
    "ModelCardOptions": "goemox.hub.model_card",
    "render_model_card": "goemox.hub.model_card",
    "push_to_hub": "goemox.hub.push",
    "PublishedResult": "goemox.hub.published",
    "read_published_results": "goemox.hub.published",
}


__getattr__ = lazy_names(__name__, _LAZY)
