"""GoEmoX model configuration.

This file is also published as Hub remote code, so it imports nothing from goemox and runs on transformers 4.57 as
well as 5.x: 5.x configs are dataclasses (`PreTrainedConfig`, fields and `__post_init__`), 4.x configs set their
attributes in `__init__` (`PretrainedConfig`); the class declares its fields once and adds the `__init__` on 4.x.
"""

from __future__ import annotations

import dataclasses

from transformers import AutoConfig, DistilBertConfig

try:
    from transformers import PreTrainedConfig
except ImportError:  # transformers 4.x
    from transformers import PretrainedConfig as PreTrainedConfig

POOLING_MODES = ("cls", "mean")

GOEMOX_FIELDS = ("encoder", "pooling", "classifier_dropout", "thresholds", "label_scheme", "problem_type")
"""The fields GoEmoXConfig adds to (or, for `problem_type`, sets a default for in) the base configuration."""

DATACLASS_CONFIGS = dataclasses.is_dataclass(PreTrainedConfig)
"""Whether this transformers builds configs as dataclasses (5.x) rather than in `__init__` (4.x)."""


class GoEmoXConfig(PreTrainedConfig):
    r"""Configuration of a [`GoEmoXForSequenceClassification`]: an encoder plus a Tanh classification head.

    The encoder's own configuration is nested under `encoder`, so a saved model rebuilds with no network.

    Attributes:
        encoder (`PreTrainedConfig` or `dict`, *optional*):
            Configuration of the encoder (any model `AutoModel` builds: DistilBERT, BERT, RoBERTa, ...).
            Defaults to a DistilBERT configuration.
        pooling (`str`, *optional*, defaults to `"cls"`):
            How token states become one vector: `"cls"` takes the first token, `"mean"` averages the
            tokens under the attention mask.
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Dropout between the Tanh layer and the output layer.
        thresholds (`list[float]`, *optional*):
            Per-label decision thresholds on the sigmoid probabilities, tuned on validation data. `None`
            means 0.5 for every label.
        label_scheme (`dict`, *optional*):
            The label scheme the model was trained with (`goemox.labels.LabelScheme.to_dict()`), so data can be
            mapped to its labels again for evaluation without a network.

    Example:

    ```python
    >>> from transformers import DistilBertConfig
    >>> from goemox import GoEmoXConfig
    >>> config = GoEmoXConfig(encoder=DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64),
    ...                       id2label={0: "joy", 1: "anger"})
    >>> config.num_labels
    2
    ```"""

    model_type = "goemox"
    sub_configs = {"encoder": AutoConfig}

    encoder: PreTrainedConfig | dict | None = None
    pooling: str = "cls"
    classifier_dropout: float = 0.1
    thresholds: list[float] | None = None
    label_scheme: dict | None = None
    problem_type: str | None = "multi_label_classification"

    if not DATACLASS_CONFIGS:

        def __init__(self, **kwargs):
            for name in GOEMOX_FIELDS:
                setattr(self, name, kwargs.pop(name, getattr(type(self), name)))
            self._resolve_encoder()
            super().__init__(problem_type=self.problem_type, **kwargs)
            self._check_fields()

    def __post_init__(self, **kwargs):
        self._resolve_encoder()
        super().__post_init__(**kwargs)
        self._check_fields()

    def _resolve_encoder(self) -> None:
        # Resolved here rather than through transformers' sub-config machinery, whose API changed within 5.x.
        if self.encoder is None:
            self.encoder = DistilBertConfig()
        elif isinstance(self.encoder, dict):
            encoder = dict(self.encoder)
            if "model_type" not in encoder:
                raise ValueError("encoder config dict needs a 'model_type' (e.g. 'bert', 'distilbert', 'roberta')")
            self.encoder = AutoConfig.for_model(encoder.pop("model_type"), **encoder)

    def _check_fields(self) -> None:
        if self.label2id is None and self.id2label is not None:
            self.label2id = {name: i for i, name in self.id2label.items()}
        if self.pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, got {self.pooling!r}")
        if not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"classifier_dropout must be in [0, 1), got {self.classifier_dropout}")
        if self.thresholds is not None:
            self.thresholds = [float(t) for t in self.thresholds]
            if len(self.thresholds) != self.num_labels:
                raise ValueError(
                    f"thresholds has {len(self.thresholds)} values but the model has {self.num_labels} labels"
                )

    @property
    def hidden_size(self) -> int:
        """Width of the encoder's token states (and of the head's hidden layer)."""
        return self.encoder.hidden_size


__all__ = ["GoEmoXConfig"]
