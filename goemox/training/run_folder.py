"""What a training run folder holds besides the model: file names, the metrics schema version and the library
versions recorded with a run. Light on purpose (no torch / transformers import at module level), so readers of run
folders (calibration, model cards) need not load the training stack.

Example:

```python
>>> from goemox.training.run_folder import METRICS_FILE, METRICS_SCHEMA_VERSION
>>> METRICS_FILE, METRICS_SCHEMA_VERSION
('metrics.json', 3)
```"""

from __future__ import annotations

import platform

from goemox import __version__

METRICS_FILE = "metrics.json"
METRICS_SCHEMA_VERSION = 3
"""3: `calibration.<split>` holds `before` / `after` errors measured out of sample, with `fitted_per_label` and
`support_rules` beside it (2: in-sample `ece_before` / `ece_after`); 2: validation threshold strategies under
`global_threshold` / `per_class_thresholds` (1: `global` / `per_class`)."""
RUN_CONFIG_FILE = "run_config.json"
CURVE_FILE = "training_curve.png"
RELIABILITY_FILE = "reliability.png"
"""Reliability diagram of the calibration, pooled over labels, before and after, per split."""
CARD_FILE = "README.md"


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a run depends on.

    Example:

    ```python
    >>> sorted(library_versions())
    ['accelerate', 'datasets', 'goemox', 'python', 'torch', 'transformers']
    ```"""
    import accelerate
    import datasets
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "goemox": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "accelerate": accelerate.__version__,
    }
