"""Scoring saved models: multi-label metrics and threshold tuning, scoring a labelled split, the error analysis and
its report, single-label scores through a label map, and per-source metrics of pooled corpora.

Example:

```python
>>> import numpy as np
>>> from goemox.evaluation import multilabel_metrics
>>> metrics = multilabel_metrics(np.array([[1, 0], [0, 1]]), np.array([[0.9, 0.2], [0.3, 0.7]]), ["joy", "anger"])
>>> metrics["macro_f1"]
1.0
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "ScoredSplit",
    "THRESHOLD_STRATEGIES",
    "annotated_metrics",
    "check_finite_logits",
    "evaluate_model",
    "make_compute_metrics",
    "multilabel_metrics",
    "score_split",
    "single_label_scores",
    "source_metrics",
    "threshold_report",
    "tune_global_threshold",
    "tune_per_class_thresholds",
    "tune_thresholds",
    "write_error_report",
]

_LAZY = {
    "THRESHOLD_STRATEGIES": "goemox.evaluation.metrics",
    "multilabel_metrics": "goemox.evaluation.metrics",
    "annotated_metrics": "goemox.evaluation.metrics",
    "check_finite_logits": "goemox.evaluation.metrics",
    "tune_thresholds": "goemox.evaluation.metrics",
    "tune_global_threshold": "goemox.evaluation.metrics",
    "tune_per_class_thresholds": "goemox.evaluation.metrics",
    "threshold_report": "goemox.evaluation.metrics",
    "make_compute_metrics": "goemox.evaluation.metrics",
    "ScoredSplit": "goemox.evaluation.scoring",
    "score_split": "goemox.evaluation.scoring",
    "evaluate_model": "goemox.evaluation.scoring",
    "write_error_report": "goemox.evaluation.error_report",
    "single_label_scores": "goemox.evaluation.label_bridge",
    "source_metrics": "goemox.evaluation.per_source",
}


__getattr__ = lazy_names(__name__, _LAZY)
