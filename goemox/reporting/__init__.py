"""What the reports of every command share: the Markdown report and the plot helpers (headless matplotlib).

Example:

```python
>>> from goemox.reporting import MarkdownReport
>>> report = MarkdownReport("reports/eval", "Evaluation")  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "MarkdownReport",
    "plot_heatmap",
    "save_figure",
]

_LAZY = {
    "MarkdownReport": "goemox.reporting.markdown",
    "plot_heatmap": "goemox.reporting.plots",
    "save_figure": "goemox.reporting.plots",
}


__getattr__ = lazy_names(__name__, _LAZY)
