"""GoEmoX model: any `AutoModel` encoder, a pooled embedding and a Tanh classification head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_goemox import GoEmoXConfig


class GoEmoXClassificationHead(nn.Module):
    """Linear(h, h) + Tanh -> Dropout -> Linear(h, num_labels) on a pooled embedding."""

    def __init__(self, config: GoEmoXConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(torch.tanh(self.dense(pooled))))


def pool_hidden_states(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """Turn token states (batch, seq, h) into one vector per text.

    Args:
        hidden_states: the encoder's last hidden states.
        attention_mask: 1 for real tokens, 0 for padding; `None` means no padding.
        pooling: `"cls"` (first token) or `"mean"` (average over unmasked tokens).
    """
    if pooling == "cls":
        return hidden_states[:, 0]
    if attention_mask is None:
        return hidden_states.mean(dim=1)
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


HIDDEN_DROPOUT_NAMES = ("hidden_dropout_prob", "dropout")  # BERT / RoBERTa, DistilBERT
ATTENTION_DROPOUT_NAMES = ("attention_probs_dropout_prob", "attention_dropout")


def encoder_dropout_overrides(config, hidden: float | None, attention: float | None) -> dict[str, float]:
    """Encoder config attributes that set hidden and attention dropout, named as the encoder family names them."""
    overrides = {}
    for kind, value, names in (
        ("hidden", hidden, HIDDEN_DROPOUT_NAMES),
        ("attention", attention, ATTENTION_DROPOUT_NAMES),
    ):
        if value is None:
            continue
        name = next((n for n in names if hasattr(config, n)), None)
        if name is None:
            raise ValueError(f"{type(config).__name__} has no {kind} dropout option ({' or '.join(names)})")
        overrides[name] = float(value)
    return overrides


class GoEmoXPreTrainedModel(PreTrainedModel):
    """The transformers base of goemox models: their configuration class and weight initialisation."""

    config: GoEmoXConfig
    config_class = GoEmoXConfig
    base_model_prefix = "goemox"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        """Initialise the head like the encoder's own layers (normal with its `initializer_range`)."""
        if isinstance(module, nn.Linear):
            std = getattr(self.config.encoder, "initializer_range", 0.02)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


class GoEmoXForSequenceClassification(GoEmoXPreTrainedModel):
    """Multi-label text classifier: encoder -> pooled embedding -> Linear + Tanh -> Dropout -> Linear.

    `forward` returns logits; apply a sigmoid for per-label probabilities. When `labels` (multi-hot floats)
    are given, the loss is plain binary cross-entropy; training in goemox uses [`GoEmoXTrainer`], which
    replaces it with the label-smoothed, positively weighted loss.

    Example:

    ```python
    >>> from goemox import GoEmoXForSequenceClassification
    >>> model = GoEmoXForSequenceClassification.from_encoder(
    ...     "distilbert-base-uncased", labels=["joy", "anger", "fear"])  # doctest: +SKIP
    ```"""

    def __init__(self, config: GoEmoXConfig):
        super().__init__(config)
        self.encoder = AutoModel.from_config(config.encoder)
        self.classifier = GoEmoXClassificationHead(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        """The encoder's token embeddings (what attributions and `resize_token_embeddings` work on)."""
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.encoder.set_input_embeddings(value)

    @classmethod
    def from_encoder(
        cls,
        encoder_name_or_path: str,
        labels: Sequence[str],
        *,
        pooling: str = "cls",
        classifier_dropout: float = 0.1,
        encoder_hidden_dropout: float | None = None,
        encoder_attention_dropout: float | None = None,
        dtype: torch.dtype = torch.float32,
        **encoder_kwargs,
    ) -> GoEmoXForSequenceClassification:
        """Build a model with pretrained encoder weights and a freshly initialised head.

        Args:
            encoder_name_or_path: Hub id or local folder of any model `AutoModel` loads.
            labels: label names in output order, or a `goemox.labels.LabelScheme` (stored in the config for
                evaluation). This module imports nothing else from goemox, so it also runs as Hub remote code.
            pooling: `"cls"` or `"mean"`.
            classifier_dropout: dropout inside the head.
            encoder_hidden_dropout: the encoder's hidden-state dropout (`None` keeps its own).
            encoder_attention_dropout: the encoder's attention dropout (`None` keeps its own).
            dtype: dtype of the weights (checkpoints stored in half precision are upcast for training).
            encoder_kwargs: passed to `AutoConfig.from_pretrained` (e.g. `revision`, other config overrides).
        """
        scheme = labels if hasattr(labels, "to_dict") else None  # a LabelScheme
        labels = list(scheme.labels) if scheme is not None else list(labels)
        encoder_config = AutoConfig.from_pretrained(encoder_name_or_path, **encoder_kwargs)
        for attribute, value in encoder_dropout_overrides(
            encoder_config, encoder_hidden_dropout, encoder_attention_dropout
        ).items():
            setattr(encoder_config, attribute, value)
        encoder = AutoModel.from_pretrained(encoder_name_or_path, config=encoder_config, dtype=dtype)
        config = GoEmoXConfig(
            encoder=encoder.config,
            pooling=pooling,
            classifier_dropout=classifier_dropout,
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            label_scheme=scheme.to_dict() if scheme is not None else None,
        )
        model = cls(config).to(dtype)
        model.encoder.load_state_dict(encoder.state_dict())
        model.name_or_path = encoder_name_or_path
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        encoder_inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "inputs_embeds": inputs_embeds,
        }
        if token_type_ids is not None:
            encoder_inputs["token_type_ids"] = token_type_ids
        outputs = self.encoder(**encoder_inputs, **kwargs)
        pooled = pool_hidden_states(outputs.last_hidden_state, attention_mask, self.config.pooling)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        return SequenceClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=getattr(outputs, "hidden_states", None),
            attentions=getattr(outputs, "attentions", None),
        )


__all__ = ["GoEmoXForSequenceClassification", "GoEmoXPreTrainedModel", "pool_hidden_states"]
