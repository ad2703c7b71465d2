"""Calibration: the map from logits to calibrated logits (`LogitMap`, folded into a model's output layer), fitting
it and the thresholds on validation under the support rules, calibration errors, the reliability diagram, and the
`goemox calibrate` job (`calibrate`).

Example:

```python
>>> from goemox.calibration import CalibrationRequest, calibrate
>>> calibrate(CalibrationRequest("runs/demo", output_dir="runs/demo-calibrated",
...                              data={"source": "demo"}))  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "CALIBRATION_METHODS",
    "CalibrationRequest",
    "FittedOnValidation",
    "LogitMap",
    "SupportRules",
    "calibrate",
    "calibration_error",
    "cross_fitted_probabilities",
    "expected_calibration_error",
    "fit_calibration",
    "fit_on_validation",
    "fit_thresholds",
    "fold_logit_map",
    "mean_nll",
    "plot_overall_reliability",
]

_LAZY = {
    "CALIBRATION_METHODS": "goemox.calibration.logit_map",
    "LogitMap": "goemox.calibration.logit_map",
    "fold_logit_map": "goemox.calibration.logit_map",
    "FittedOnValidation": "goemox.calibration.fitting",
    "SupportRules": "goemox.calibration.fitting",
    "fit_calibration": "goemox.calibration.fitting",
    "fit_thresholds": "goemox.calibration.fitting",
    "fit_on_validation": "goemox.calibration.fitting",
    "cross_fitted_probabilities": "goemox.calibration.fitting",
    "calibration_error": "goemox.calibration.fitting",
    "mean_nll": "goemox.calibration.fitting",
    "expected_calibration_error": "goemox.calibration.scaling",
    "plot_overall_reliability": "goemox.calibration.report",
    "CalibrationRequest": "goemox.calibration.job",
    "calibrate": "goemox.calibration.job",
}


__getattr__ = lazy_names(__name__, _LAZY)
