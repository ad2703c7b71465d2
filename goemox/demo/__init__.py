"""The Streamlit web demo (`goemox demo`): the page (`goemox/demo/app.py`, run by Streamlit) and everything it
computes, testable without a browser (`logic`).

Example:

```python
>>> from goemox.demo import parse_demo_args
>>> parse_demo_args(["--model", "runs/demo"]).model  # doctest: +SKIP
'runs/demo'
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "DemoSettings",
    "parse_demo_args",
]

_LAZY = {
    "DemoSettings": "goemox.demo.logic",
    "parse_demo_args": "goemox.demo.logic",
}


__getattr__ = lazy_names(__name__, _LAZY)
