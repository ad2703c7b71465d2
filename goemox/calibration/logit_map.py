"""Calibration as a per-label affine map of the logits, `z_k -> a_k * z_k + b_k`, folded into the output layer.

Every calibration method goemox offers is such a map with positive slopes:

- `temperature`: one temperature `T` for all labels, `a_k = 1 / T`, `b_k = 0`.
- `per_label_temperature`: one `T_k` per label, `a_k = 1 / T_k`, `b_k = 0`.
- `platt`: per-label Platt scaling `sigmoid(a_k * z_k + b_k)`.

How the slopes and intercepts are fitted, and which labels have the validation support for values of their own, is
`goemox.calibration.fitting`.

The output layer computes `z = W h + c`, so the map folds exactly: row `k` of `W` is multiplied by `a_k` and the bias
becomes `a_k * c_k + b_k`. A positive slope keeps each label's ranking of texts, so every threshold on the old
probabilities has an equivalent on the new ones (:meth:`LogitMap.carried_grid`).

Example:

```python
>>> m = LogitMap("platt", (2.0, 0.5), (-1.0, 0.0))
>>> m.apply([[1.0, 4.0]]).tolist()
[[1.0, 2.0]]
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel

from goemox.calibration.scaling import TEMPERATURE_KEY, output_layer
from goemox.errors import GoEmoXUsageError
from goemox.scores import sigmoid

CALIBRATION_METHODS = ("none", "temperature", "per_label_temperature", "platt")
"""What `--calibration` accepts; `none` fits nothing."""

CALIBRATION_KEY = "calibration"
"""Config key of the total map folded into a model: `{"method", "slope", "intercept"}`."""


@dataclass(frozen=True)
class LogitMap:
    """A per-label affine map of logits with positive slopes.

    Attributes:
        method: the calibration method that fitted it (`+`-joined when maps were composed).
        slope: `a_k` per label, each > 0.
        intercept: `b_k` per label.
    """

    method: str
    slope: tuple[float, ...]
    intercept: tuple[float, ...]

    def __post_init__(self) -> None:
        slope, intercept = np.asarray(self.slope, dtype=np.float64), np.asarray(self.intercept, dtype=np.float64)
        if slope.ndim != 1 or slope.shape != intercept.shape or slope.size == 0:
            raise ValueError(f"slope and intercept need one value per label; got {slope.shape} and {intercept.shape}")
        if not (np.all(np.isfinite(slope) & (slope > 0)) and np.all(np.isfinite(intercept))):
            raise ValueError(f"slopes must be finite and positive and intercepts finite; got {self.slope}")

    @classmethod
    def from_temperature(cls, temperature: float | Sequence[float], num_labels: int) -> LogitMap:
        """The map of temperature scaling: `z / T` (one `T`, or one per label).

        Example:
            >>> LogitMap.from_temperature(2.0, 2).slope
            (0.5, 0.5)
        """
        values = np.asarray(temperature, dtype=np.float64)
        if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != num_labels):
            raise ValueError(f"expected one temperature or {num_labels}; got shape {values.shape}")
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"temperatures must be finite and positive; got {temperature}")
        method = "temperature" if values.ndim == 0 else "per_label_temperature"
        slope = tuple(float(v) for v in np.broadcast_to(1.0 / values, (num_labels,)))
        return cls(method, slope, (0.0,) * num_labels)

    @property
    def num_labels(self) -> int:
        return len(self.slope)

    @property
    def temperature(self) -> float | list[float] | None:
        """`1 / a` (one value when all slopes are equal) for a map without intercepts, else `None`."""
        if any(self.intercept):
            return None
        values = [1.0 / a for a in self.slope]
        return values[0] if len(set(values)) == 1 else values

    def describe(self) -> str:
        """One line saying what the map does.

        Example:
            >>> LogitMap.from_temperature(2.0, 3).describe()
            'temperature: T = 2.0000'
        """
        temperature = self.temperature
        if temperature is not None:
            return f"{self.method}: T = {_summary(np.atleast_1d(temperature).tolist())}"
        return f"{self.method}: slope a = {_summary(list(self.slope))}, intercept b = {_summary(list(self.intercept))}"

    def apply(self, logits) -> np.ndarray:
        """`a * z + b` for `(n, L)` logits."""
        z = np.asarray(logits, dtype=np.float64)
        return z * np.asarray(self.slope) + np.asarray(self.intercept)

    def then(self, later: LogitMap) -> LogitMap:
        """The map of `self` followed by `later`: `a2 * (a1 z + b1) + b2`."""
        a1, b1 = np.asarray(self.slope), np.asarray(self.intercept)
        a2, b2 = np.asarray(later.slope), np.asarray(later.intercept)
        return LogitMap(f"{self.method}+{later.method}", tuple((a2 * a1).tolist()), tuple((a2 * b1 + b2).tolist()))

    def carried_grid(self, grid: Sequence[float], label: int) -> np.ndarray:
        """The thresholds on the mapped probabilities of `label` that make the decisions `grid` made before.

        A text passes `t` before the map exactly when it passes `sigmoid(a * logit(t) + b)` after it.

        Example:
            >>> LogitMap.from_temperature(0.5, 1).carried_grid([0.5, 0.75], 0).round(3).tolist()
            [0.5, 0.9]
        """
        values = np.asarray(grid, dtype=np.float64)
        return sigmoid(self.slope[label] * np.log(values / (1.0 - values)) + self.intercept[label])

    def to_dict(self) -> dict:
        return {"method": self.method, "slope": list(self.slope), "intercept": list(self.intercept)}

    @classmethod
    def from_dict(cls, entry: dict) -> LogitMap:
        """The map of a `to_dict()` entry (e.g. a config's `calibration`)."""
        return cls(entry["method"], tuple(entry["slope"]), tuple(entry["intercept"]))

    @classmethod
    def stored(cls, config) -> LogitMap | None:
        """The map already folded into a model, from its config (`calibration`, or an older
        `calibration_temperature`), or `None`."""
        entry = getattr(config, CALIBRATION_KEY, None)
        if entry:
            return cls.from_dict(entry)
        temperature = getattr(config, TEMPERATURE_KEY, None)
        return cls.from_temperature(temperature, config.num_labels) if temperature is not None else None


def _summary(values: list[float]) -> str:
    if len(set(values)) == 1:
        return f"{values[0]:.4f}"
    return f"{len(values)} per-label values, {min(values):.3f} to {max(values):.3f}"


def fold_logit_map(model: PreTrainedModel, logit_map: LogitMap) -> LogitMap:
    """Fold the map into the model's output layer, so the model itself returns `a * z + b`.

    The config's `calibration` records the total map (composed with one folded earlier), and
    `calibration_temperature` the total temperature while the total map is a temperature scaling (else it is
    removed).

    Args:
        model: a model of a supported architecture (see `output_layer`).
        logit_map: the map to fold, one slope per output.

    Returns:
        The total map now stored in the config.

    Example:
        >>> fold_logit_map(model, LogitMap.from_temperature(1.7, 28)).temperature  # doctest: +SKIP
        1.7
    """
    layer = output_layer(model)
    if logit_map.num_labels != layer.out_features:
        raise ValueError(f"the map has {logit_map.num_labels} labels, the output layer {layer.out_features}")
    slope = torch.tensor(logit_map.slope, dtype=torch.float64)
    intercept = torch.tensor(logit_map.intercept, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_((layer.weight.double() * slope.unsqueeze(1)).to(layer.weight.dtype))
        if layer.bias is None:
            if any(logit_map.intercept):
                raise GoEmoXUsageError(f"{type(model).__name__}: the output layer has no bias to take the intercepts")
        else:
            layer.bias.copy_((layer.bias.double() * slope + intercept).to(layer.bias.dtype))
    previous = LogitMap.stored(model.config)
    total = logit_map if previous is None else previous.then(logit_map)
    setattr(model.config, CALIBRATION_KEY, total.to_dict())
    if total.temperature is not None:
        setattr(model.config, TEMPERATURE_KEY, total.temperature)
    elif hasattr(model.config, TEMPERATURE_KEY):
        delattr(model.config, TEMPERATURE_KEY)
    return total
