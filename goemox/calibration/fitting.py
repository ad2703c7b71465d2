"""Fitting a calibration and decision thresholds on validation data of any size: only what the data can carry.

A user's validation split may hold tens of rows in which most labels have a handful of positives or none. A value
fitted per label from three positives is noise, and a steep Platt map turns that noise into certainty. The rules
here (chosen on validation subsets of 50 to 1,200 GoEmotions rows, never on test: BENCHMARKS.md, "Calibration and
thresholds at every data size") are:

- **Support.** A label's support is its count of validation positives and negatives (over the rows that annotate
  it, with several corpora).
- **Calibration** (`platt`, the default). One pooled map `sigmoid(a0 * z + b0)` is fitted on every annotated
  (row, label) pair, with Platt's smoothed targets (`(N+ + 1) / (N+ + 2)` for a positive, `1 / (N- + 2)` for a
  negative) counted over all pairs. A label with at least `MIN_POSITIVES` positives and `MIN_NEGATIVES` negatives
  gets its own `(a, b)` (`per_label`), fitted with the smoothed targets of its own counts and pulled toward the
  pooled map by a penalty worth `PRIOR_STRENGTH` positives, its slope kept within `SLOPE_RANGE` times the pooled
  slope. Every other label keeps the pooled slope and fits only an intercept of its own the same way
  (`pooled_slope`): one number, which its negatives carry even without positives (the default loss weights a rare
  label's positives up to 10 times, so its scores sit too high by an amount the pooled intercept does not know).
  `per_label_temperature` fits slopes only (a label without the support takes the pooled one: `pooled`);
  `temperature` fits the pooled slope alone (`shared`).
- **Thresholds** (`per_class`). A label with at least `MIN_THRESHOLD_POSITIVES` positives gets its own threshold,
  tuned on its uncalibrated scores and carried through its map (so it makes the same decisions). Every other label
  gets the global threshold, one value tuned on the calibrated probabilities of all labels together. `global`
  stores that value for every label; `fixed` stores 0.5.
- **Error out of sample.** The calibration error reported for the validation split is cross-fitted: the rows are
  split into `CROSS_FIT_FOLDS` folds, and each fold is scored by the rules fitted on the other folds.

Example:

```python
>>> rng = np.random.default_rng(0)
>>> z = rng.normal(-2, 2, size=(400, 3))
>>> y = (rng.random(z.shape) < 1 / (1 + np.exp(-z))).astype(int)
>>> y[:, 2] = 0; y[:2, 2] = 1  # two positives: not enough for a value of its own
>>> fitted = fit_on_validation(z, y, "platt", "per_class")
>>> [label["calibration"] for label in fitted.labels]
['per_label', 'per_label', 'pooled_slope']
>>> fitted.labels[2]["threshold"]
'global'

```
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize

from goemox.calibration.logit_map import CALIBRATION_METHODS, LogitMap
from goemox.calibration.scaling import (
    DEFAULT_BINS,
    TEMPERATURE_BOUNDS,
    check_logits_labels,
    expected_calibration_error,
)
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import DEFAULT_GRID, THRESHOLD_STRATEGIES, tune_thresholds
from goemox.scores import sigmoid

MIN_POSITIVES = 5
"""Validation positives a label needs before a calibration of its own is fitted."""

MIN_THRESHOLD_POSITIVES = 5
"""Validation positives a label needs before a threshold of its own is tuned."""

MIN_NEGATIVES = 10
"""Validation negatives a label needs before a calibration of its own is fitted."""

PRIOR_STRENGTH = 2.0
"""How strongly a label's own calibration is pulled toward the pooled one, counted in positives: a label with this
many validation positives lands about halfway between its own fit and the pooled map."""

SLOPE_RANGE = 4.0
"""A label's calibration slope stays within this factor of the pooled slope (both ways)."""

CROSS_FIT_FOLDS = 5
"""Folds of the cross-fitted calibration error on validation."""

SLOPE_BOUNDS = (1.0 / TEMPERATURE_BOUNDS[1], 1.0 / TEMPERATURE_BOUNDS[0])
"""Where a pooled slope is searched (the temperatures of `TEMPERATURE_BOUNDS`)."""


@dataclass(frozen=True)
class SupportRules:
    """The settings of the support rules; the defaults are this module's constants, chosen on validation.

    Attributes:
        min_positives: validation positives a label needs for a calibration map of its own.
        min_threshold_positives: validation positives a label needs for a threshold of its own.
        min_negatives: validation negatives a label needs for a calibration map of its own.
        prior_strength: the pull of a label's own map toward the pooled one, in positives.
        slope_range: a label's slope stays within this factor of the pooled slope.
        cross_fit_folds: folds of the cross-fitted calibration error.

    Example:
        >>> SupportRules().min_positives, SupportRules(min_positives=10).min_threshold_positives
        (5, 5)
    """

    min_positives: int = MIN_POSITIVES
    min_threshold_positives: int = MIN_THRESHOLD_POSITIVES
    min_negatives: int = MIN_NEGATIVES
    prior_strength: float = PRIOR_STRENGTH
    slope_range: float = SLOPE_RANGE
    cross_fit_folds: int = CROSS_FIT_FOLDS

    def to_dict(self) -> dict[str, float]:
        """The settings as recorded in a run's `metrics.json` (`support_rules`)."""
        return asdict(self)


@dataclass(frozen=True)
class Support:
    """Validation positives and negatives per label (over the rows that annotate it).

    Attributes:
        positives: `(L,)` counts of positive rows.
        negatives: `(L,)` counts of negative rows.
    """

    positives: np.ndarray
    negatives: np.ndarray

    @classmethod
    def of(cls, labels, mask=None) -> Support:
        """Count a `(n, L)` 0/1 label matrix, over the annotated pairs of `mask` when one is given.

        Example:
            >>> Support.of([[1, 0], [0, 0], [1, 1]]).positives.tolist()
            [2, 1]
        """
        y = np.asarray(labels, dtype=np.int64)
        keep = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask) > 0
        positives = (y * keep).sum(axis=0)
        return cls(positives, keep.sum(axis=0) - positives)

    def carries_calibration(self, rules: SupportRules) -> np.ndarray:
        """`(L,)` booleans: whether each label has the support for a calibration of its own."""
        return (self.positives >= rules.min_positives) & (self.negatives >= rules.min_negatives)

    def carries_threshold(self, rules: SupportRules) -> np.ndarray:
        """`(L,)` booleans: whether each label has the support for a threshold of its own."""
        return self.positives >= rules.min_threshold_positives


def smoothed_targets(labels, support: Support) -> np.ndarray:
    """Platt's targets: `(N+ + 1) / (N+ + 2)` for a positive and `1 / (N- + 2)` for a negative, per label.

    Example:
        >>> smoothed_targets([[1], [0]], Support.of([[1], [0]])).round(3).tolist()
        [[0.667], [0.333]]
    """
    y = np.asarray(labels, dtype=np.float64)
    high = (support.positives + 1.0) / (support.positives + 2.0)
    low = 1.0 / (support.negatives + 2.0)
    return np.where(y > 0, high, low)


def _platt_objective(params, logits, targets, prior, strength, fit_intercept):
    """Summed cross-entropy of `sigmoid(exp(log_a) * z + b)` against soft targets, plus a quadratic pull of
    `(log_a, b)` toward `prior`; returns the value and its gradient."""
    log_a, b = params[0], params[1] if fit_intercept else 0.0
    a = np.exp(log_a)
    scaled = a * logits + b
    residual = sigmoid(scaled) - targets
    value = float((np.logaddexp(0.0, scaled) - targets * scaled).sum())
    gradient = [a * float((residual * logits).sum()), float(residual.sum())]
    if strength > 0:
        gaps = (log_a - np.log(prior[0]), b - prior[1])
        value += 0.5 * strength * (gaps[0] ** 2 + (gaps[1] ** 2 if fit_intercept else 0.0))
        gradient = [gradient[0] + strength * gaps[0], gradient[1] + strength * gaps[1]]
    return value, np.asarray(gradient[: 2 if fit_intercept else 1])


def fit_affine(
    logits,
    targets,
    fit_intercept: bool,
    prior: tuple[float, float] = (1.0, 0.0),
    strength: float = 0.0,
    slope_bounds: tuple[float, float] = SLOPE_BOUNDS,
) -> tuple[float, float]:
    """The `(a, b)` minimising the cross-entropy of `sigmoid(a * z + b)` against (soft) targets.

    Args:
        logits: logits `z`, any shape.
        targets: targets in [0, 1], the same shape (Platt's smoothed targets keep the fit finite).
        fit_intercept: fit `b` too (Platt scaling) or keep it 0 (temperature scaling, `a = 1 / T`).
        prior: `(a0, b0)` the fit is pulled toward.
        strength: weight of the pull on `(log a - log a0)^2 + (b - b0)^2`, in units of rows.
        slope_bounds: the interval `a` is searched in.

    Returns:
        `(a, b)`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(0, 3, size=20000)
        >>> y = rng.random(z.shape) < 1 / (1 + np.exp(-(0.5 * z - 1)))
        >>> [round(v, 1) for v in fit_affine(z, y.astype(float), fit_intercept=True)]
        [0.5, -1.0]
    """
    z = np.asarray(logits, dtype=np.float64).ravel()
    t = np.asarray(targets, dtype=np.float64).ravel()
    start = np.clip(prior[0], *slope_bounds)
    initial = np.array([np.log(start), prior[1]][: 2 if fit_intercept else 1])
    bounds = [tuple(np.log(slope_bounds))] + ([(None, None)] if fit_intercept else [])
    fitted = minimize(
        _platt_objective,
        initial,
        args=(z, t, prior, strength, fit_intercept),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
    )
    return float(np.exp(fitted.x[0])), float(fitted.x[1]) if fit_intercept else 0.0


@dataclass
class FittedOnValidation:
    """A calibration and thresholds fitted on validation, and how each label's values were chosen.

    Attributes:
        logit_map: the calibration (`None` for `none`).
        thresholds: one threshold per label, on the calibrated probabilities.
        global_threshold: the one threshold tuned on all labels together (`None` with `fixed`).
        rules: the settings of the rules it was fitted with.
        labels: per label, `{"label", "positives", "negatives", "calibration", "threshold"}`: which rule gave its
            calibration (`per_label`, `pooled_slope`, `pooled`, `shared`, `none`) and its threshold (`per_label`,
            `global`, `fixed`).
    """

    logit_map: LogitMap | None
    thresholds: list[float]
    global_threshold: float | None
    labels: list[dict]
    rules: SupportRules

    def fallback_counts(self) -> dict[str, int]:
        """How many labels fell back to a pooled calibration and to the global threshold."""
        return {
            "pooled_calibration": sum(label["calibration"] in ("pooled", "pooled_slope") for label in self.labels),
            "global_threshold": sum(label["threshold"] == "global" for label in self.labels),
        }

    def summary(self) -> str:
        """One line saying how many labels lacked the support for values of their own.

        Example:
            >>> fitted.summary()  # doctest: +SKIP
            '19 of 28 labels have fewer than 5 validation positives (or 10 negatives) and use the pooled slope; ...'
        """
        counts = self.fallback_counts()
        total = len(self.labels)
        parts = []
        if counts["pooled_calibration"]:
            parts.append(
                f"{counts['pooled_calibration']} of {total} labels have fewer than {self.rules.min_positives} "
                f"validation positives (or {self.rules.min_negatives} negatives) and use the pooled slope"
            )
        if counts["global_threshold"]:
            parts.append(
                f"{counts['global_threshold']} of {total} have fewer than {self.rules.min_threshold_positives} and use "
                f"the global threshold {self.global_threshold:.2f}"
            )
        return "; ".join(parts) or f"all {total} labels have the validation support for values of their own"


def fit_calibration(
    logits, labels, method: str, mask=None, rules: SupportRules | None = None
) -> tuple[LogitMap | None, list[str]]:
    """Fit a calibration method with the support rules of this module.

    Args:
        logits: `(n, L)` validation logits of the uncalibrated model.
        labels: `(n, L)` 0/1 validation labels.
        method: one of `CALIBRATION_METHODS`.
        mask: `(n, L)` 0/1 marks of the annotated (row, label) pairs (several corpora), else `None`.
        rules: the settings (default: `SupportRules()`).

    Returns:
        The map (`None` for `none`) and, per label, the rule that gave its values.

    Example:
        >>> logit_map, rules = fit_calibration(z, y, "platt")  # doctest: +SKIP
    """
    if method not in CALIBRATION_METHODS:
        raise GoEmoXUsageError(f"calibration method must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}")
    z, y = check_logits_labels(logits, labels)
    count = z.shape[1]
    if method == "none":
        return None, ["none"] * count
    rules = rules or SupportRules()
    keep = np.ones(z.shape, dtype=bool) if mask is None else np.asarray(mask) > 0
    support = Support.of(y, keep)
    targets = smoothed_targets(y, support)
    fit_intercept = method == "platt"
    pooled_support = Support(support.positives.sum(keepdims=True), support.negatives.sum(keepdims=True))
    pooled_targets = smoothed_targets(y[keep], pooled_support)
    pooled = fit_affine(z[keep], pooled_targets, fit_intercept) if keep.any() else (1.0, 0.0)
    if method == "temperature":
        return LogitMap(method, (pooled[0],) * count, (0.0,) * count), ["shared"] * count
    slopes, intercepts, names = [], [], []
    bounds = (pooled[0] / rules.slope_range, pooled[0] * rules.slope_range)
    for label, carried in enumerate(support.carries_calibration(rules)):
        if carried:
            rows = keep[:, label]
            a, b = fit_affine(z[rows, label], targets[rows, label], fit_intercept, pooled, rules.prior_strength, bounds)
            names.append("per_label")
        elif fit_intercept and keep[:, label].any():
            rows = keep[:, label]
            a, b = fit_affine(
                z[rows, label], targets[rows, label], True, pooled, rules.prior_strength, (pooled[0],) * 2
            )
            names.append("pooled_slope")
        else:
            a, b = pooled
            names.append("pooled")
        slopes.append(a)
        intercepts.append(b)
    return LogitMap(method, tuple(slopes), tuple(intercepts)), names


def fit_thresholds(
    labels, logits, logit_map: LogitMap | None, strategy: str, mask=None, rules: SupportRules | None = None
) -> tuple[list[float], float | None, list[str]]:
    """Thresholds of a strategy on the calibrated probabilities, with the support rule for `per_class`.

    A label's own threshold is tuned on its uncalibrated scores on `DEFAULT_GRID` and carried through its map
    (`LogitMap.carried_grid`), so it makes the decisions it made before calibration. The global threshold is tuned
    on the calibrated probabilities of all labels together, over the union of the labels' carried grids.

    Args:
        labels: `(n, L)` 0/1 validation labels.
        logits: `(n, L)` validation logits of the uncalibrated model.
        logit_map: the calibration (`None`: the model's own scores).
        strategy: `per_class`, `global` or `fixed`.
        mask: `(n, L)` 0/1 marks of the annotated pairs (several corpora), else `None`.
        rules: the settings (default: `SupportRules()`).

    Returns:
        The thresholds, the global threshold (`None` for `fixed`) and, per label, `per_label`, `global` or `fixed`.

    Example:
        >>> fit_thresholds([[1, 0], [0, 1]], [[0.3, 0.1], [0.2, 0.35]], None, "fixed")
        ([0.5, 0.5], None, ['fixed', 'fixed'])
    """
    if strategy not in THRESHOLD_STRATEGIES:
        raise GoEmoXUsageError(f"threshold strategy must be one of {THRESHOLD_STRATEGIES}, got {strategy!r}")
    z = np.asarray(logits, dtype=np.float64)
    count = z.shape[1]
    if strategy == "fixed":
        return [0.5] * count, None, ["fixed"] * count
    if logit_map is None:
        grids, probs = [DEFAULT_GRID] * count, sigmoid(z)
    else:
        grids = [logit_map.carried_grid(DEFAULT_GRID, label) for label in range(count)]
        probs = sigmoid(logit_map.apply(z))
    shared = tune_thresholds(labels, probs, "global", grids, mask=mask)[0]
    if strategy == "global":
        return [shared] * count, shared, ["global"] * count
    own = tune_thresholds(labels, sigmoid(z), "per_class", mask=mask)
    if logit_map is not None:
        own = [float(logit_map.carried_grid([t], label)[0]) for label, t in enumerate(own)]
    carried = Support.of(labels, mask).carries_threshold(rules or SupportRules())
    thresholds = [float(t) if ok else shared for t, ok in zip(own, carried)]
    return thresholds, shared, ["per_label" if ok else "global" for ok in carried]


def fit_on_validation(
    logits, labels, method: str, strategy: str, mask=None, rules: SupportRules | None = None
) -> FittedOnValidation:
    """Fit the calibration, then the thresholds on the calibrated probabilities, with the support rules.

    Args:
        logits: `(n, L)` validation logits of the uncalibrated model.
        labels: `(n, L)` 0/1 validation labels.
        method: one of `CALIBRATION_METHODS`.
        strategy: one of `THRESHOLD_STRATEGIES`.
        mask: `(n, L)` 0/1 marks of the annotated pairs (several corpora), else `None`.
        rules: the settings (default: `SupportRules()`).

    Example:
        >>> fit_on_validation(z, y, "platt", "per_class").thresholds  # doctest: +SKIP
    """
    rules = rules or SupportRules()
    logit_map, calibration_rules = fit_calibration(logits, labels, method, mask, rules)
    thresholds, shared, threshold_rules = fit_thresholds(labels, logits, logit_map, strategy, mask, rules)
    support = Support.of(labels, mask)
    records = [
        {
            "label": index,
            "positives": int(support.positives[index]),
            "negatives": int(support.negatives[index]),
            "calibration": calibration_rules[index],
            "threshold": threshold_rules[index],
        }
        for index in range(len(thresholds))
    ]
    return FittedOnValidation(logit_map, thresholds, shared, records, rules)


def cross_fitted_probabilities(
    logits, labels, method: str, mask=None, rules: SupportRules | None = None, seed: int = 0
):
    """Each validation row's calibrated probabilities from the calibration fitted on the other folds.

    Args:
        logits: `(n, L)` validation logits of the uncalibrated model.
        labels: `(n, L)` 0/1 validation labels.
        method: one of `CALIBRATION_METHODS`.
        mask: `(n, L)` 0/1 marks of the annotated pairs, else `None`.
        rules: the settings (default: `SupportRules()`); `cross_fit_folds` folds (at most `n`).
        seed: seed of the split into folds.

    Returns:
        `(n, L)` probabilities, none of them from a map that saw its own row.

    Example:
        >>> cross_fitted_probabilities(z, y, "platt").shape  # doctest: +SKIP
        (400, 3)
    """
    z, y = check_logits_labels(logits, labels)
    rules = rules or SupportRules()
    keep = np.ones(z.shape) if mask is None else np.asarray(mask)
    fold_of = np.random.default_rng(seed).permutation(len(z)) % max(1, min(rules.cross_fit_folds, len(z)))
    probs = np.empty_like(z)
    for fold in np.unique(fold_of):
        held, fit = fold_of == fold, fold_of != fold
        if not fit.any():
            probs[held] = sigmoid(z[held])
            continue
        logit_map, _ = fit_calibration(z[fit], y[fit], method, keep[fit], rules)
        probs[held] = sigmoid(z[held] if logit_map is None else logit_map.apply(z[held]))
    return probs


def mean_nll(probs, labels) -> float:
    """Mean binary cross-entropy (natural log) of probabilities against 0/1 labels, over all entries.

    Example:
        >>> round(mean_nll([[0.5]], [[1]]), 4)
        0.6931
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(labels, dtype=np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def calibration_error(probs, labels, bins: int = DEFAULT_BINS, mask=None) -> dict:
    """ECE per label and pooled (see `goemox.calibration.scaling`) and the mean NLL, over the annotated pairs.

    Args:
        probs: `(n, L)` probabilities.
        labels: `(n, L)` 0/1 labels.
        bins: equal-width probability bins.
        mask: `(n, L)` 0/1 marks of the annotated pairs, else `None`.

    Example:
        >>> round(calibration_error([[0.5]], [[1]])["nll"], 4)
        0.6931
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    keep = np.ones(p.shape, dtype=bool) if mask is None else np.asarray(mask) > 0
    per_label = [
        expected_calibration_error(p[keep[:, k], k : k + 1], y[keep[:, k], k : k + 1], bins)["class_mean"]
        if keep[:, k].any()
        else None
        for k in range(p.shape[1])
    ]
    return {
        "ece_per_label": float(np.mean([value for value in per_label if value is not None])),
        "ece_pooled": expected_calibration_error(p[keep][:, None], y[keep][:, None], bins)["pooled"],
        "nll": mean_nll(p[keep], y[keep]),
        "per_label": per_label,
    }
