"""Export a goemox model as a native transformers sequence-classification class, when one has the same head.

BERT's `BertForSequenceClassification` computes [CLS] -> pooler Linear(h, h) + Tanh -> Dropout -> Linear, and
RoBERTa's / XLM-R's classification head computes first token -> Dropout -> Linear(h, h) + Tanh -> Dropout -> Linear.
At inference (dropout off) both equal goemox's head with first-token pooling, so the weights move over unchanged and
the exported checkpoint loads anywhere transformers does: the Hub widget, hosted inference, optimum, transformers.js.

DistilBERT's own head differs (Linear + ReLU), but its encoder is a BERT encoder without segment embeddings and
without a pooler: the same post-LayerNorm layers under other names, LayerNorm eps 1e-12. A DistilBERT model is
therefore exported as `BertForSequenceClassification`, its weights renamed (`DISTILBERT_LAYER_AS_BERT`), its config
keys renamed (`DISTILBERT_CONFIG_AS_BERT`), all-zero segment embeddings and goemox's Tanh layer as the pooler.

The same mapping read backwards turns such a classifier into a goemox model again (`from_native_model`); a
DistilBERT model's export comes back with the BERT encoder it was exported as, which computes the same function.
"""

from __future__ import annotations

import re

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

from goemox.configuration_goemox import GoEmoXConfig
from goemox.inference.predictor import LONG_TEXT_CONFIG_KEYS
from goemox.modeling_goemox import GoEmoXForSequenceClassification

NATIVE_MODEL_TYPES = {
    "bert": "bert",
    "distilbert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "xlm-roberta",
}
"""Encoder `model_type` -> `model_type` of the native classifier that computes goemox's head with `cls` pooling."""

DISTILBERT_CONFIG_AS_BERT = {
    "dim": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "hidden_dim": "intermediate_size",
    "activation": "hidden_act",  # both look the name up in transformers' ACT2FN: "gelu" is the same function
    "dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
}
"""DistilBERT config key -> BERT's name for it. `vocab_size`, `max_position_embeddings`, `pad_token_id`,
`initializer_range` and the keys every config has are named alike; `sinusoidal_pos_embds`, `qa_dropout` and
`seq_classif_dropout` are dropped (sinusoidal positions are stored as a weight like learned ones)."""

DISTILBERT_ONLY_KEYS = ("sinusoidal_pos_embds", "qa_dropout", "seq_classif_dropout")

DISTILBERT_LAYER_AS_BERT = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}
"""Module of DistilBERT's `transformer.layer.N` -> the module of BERT's `encoder.layer.N` with the same weights
(the embeddings' names are the same in both)."""

DISTILBERT_LAYER_WEIGHT = re.compile(r"transformer\.layer\.(\d+)\.(.+)\.(weight|bias)")

DISTILBERT_SEGMENTS = 2
"""Rows of the exported (all-zero) segment embeddings: BERT's two, so a BERT tokenizer's sentence-pair ids (0 and 1)
select a zero row too, as DistilBERT ignores segments. With one row, segment id 1 would be out of range."""

DISTILBERT_LAYER_NORM_EPS = 1e-12
"""DistilBERT's LayerNorm eps, fixed in its code rather than its config."""

GOEMOX_CONFIG_KEYS = (
    "thresholds",
    "calibration",
    "calibration_temperature",
    "ood_cutoff",
    "label_scheme",
    *LONG_TEXT_CONFIG_KEYS.values(),
)
"""goemox's extra config keys, carried over to a native config (transformers keeps unknown keys in config.json)."""

BOOKKEEPING_KEYS = ("architectures", "_name_or_path", "transformers_version", "dtype", "torch_dtype")
"""Config keys that describe a saved file rather than the network; never copied between configs."""

CLASSIFIER_KEYS = ("num_labels", "id2label", "label2id", "problem_type", "classifier_dropout", *GOEMOX_CONFIG_KEYS)
"""Keys of a native config that belong to its classification head, not to its encoder."""


def copy_goemox_keys(source, target):
    """Copy goemox's extra config keys that `source` sets (thresholds, calibration, OOD cutoff, scheme, long-text
    settings) onto `target`, and return `target`."""
    for key in GOEMOX_CONFIG_KEYS:
        value = getattr(source, key, None)
        if value is not None:
            setattr(target, key, value)
    return target


def native_export_blocker(config: GoEmoXConfig) -> str | None:
    """Why this model has no identical native class, or `None` when it has one.

    Args:
        config: a goemox model's config.

    Example:

    ```python
    >>> native_export_blocker(GoEmoXConfig(encoder=DistilBertConfig(), pooling="mean"))  # doctest: +SKIP
    "the model pools with 'mean'; native heads read the first token only"
    ```"""
    family = config.encoder.model_type
    if family not in NATIVE_MODEL_TYPES:
        return (
            f"the {family!r} encoder's native classification head differs from goemox's Linear + Tanh head "
            f"(identical heads exist for {', '.join(sorted(NATIVE_MODEL_TYPES))})"
        )
    if config.pooling != "cls":
        return f"the model pools with {config.pooling!r}; native heads read the first token only"
    return None


def published_architecture(config: GoEmoXConfig, native: bool = True) -> tuple[str, str | None]:
    """The class a published repository names, and why it is not native (`None` when it is).

    Args:
        config: a goemox model's config.
        native: whether a native class may be used (`--no_native` turns it off).

    Example:

    ```python
    >>> published_architecture(GoEmoXConfig(encoder=DistilBertConfig(), pooling="cls"))  # doctest: +SKIP
    ('BertForSequenceClassification', None)
    ```"""
    blocker = native_export_blocker(config) if native else "native export was turned off"
    if blocker is None:
        return MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES[NATIVE_MODEL_TYPES[config.encoder.model_type]], None
    return "GoEmoXForSequenceClassification", blocker


def distilbert_config_as_bert(encoder: dict) -> dict:
    """A DistilBERT config's keys (`to_dict()`) as the `BertConfig` keys of the same encoder.

    Args:
        encoder: the DistilBERT config as a dict, without `model_type`.

    Example:

    ```python
    >>> distilbert_config_as_bert({"dim": 768, "n_layers": 6, "activation": "gelu"})  # doctest: +SKIP
    {'hidden_size': 768, 'num_hidden_layers': 6, 'hidden_act': 'gelu', 'type_vocab_size': 2, 'layer_norm_eps': 1e-12}
    ```"""
    bert = {DISTILBERT_CONFIG_AS_BERT.get(key, key): value for key, value in encoder.items()}
    for key in DISTILBERT_ONLY_KEYS:
        bert.pop(key, None)
    return {**bert, "type_vocab_size": DISTILBERT_SEGMENTS, "layer_norm_eps": DISTILBERT_LAYER_NORM_EPS}


def distilbert_weights_as_bert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A `DistilBertModel` state dict as the `BertModel` weights of the same encoder (less the pooler).

    Args:
        state: `DistilBertModel.state_dict()`.

    Example:

    ```python
    >>> sorted(distilbert_weights_as_bert(model.encoder.state_dict()))[:2]  # doctest: +SKIP
    ['embeddings.LayerNorm.bias', 'embeddings.LayerNorm.weight']
    ```"""
    weights = {}
    for name, tensor in state.items():
        layer = DISTILBERT_LAYER_WEIGHT.fullmatch(name)
        if layer is not None:
            index, module, kind = layer.groups()
            name = f"encoder.layer.{index}.{DISTILBERT_LAYER_AS_BERT[module]}.{kind}"
        weights[name] = tensor
    words = state["embeddings.word_embeddings.weight"]
    weights["embeddings.token_type_embeddings.weight"] = words.new_zeros(DISTILBERT_SEGMENTS, words.shape[1])
    return weights


def native_config(config: GoEmoXConfig):
    """The native classifier's configuration: the encoder's own (a DistilBERT one as BERT's), plus labels,
    problem type and goemox's keys. For an encoder family without an identical native head it is that family's
    config all the same (the ONNX export, whose graph holds the head, names it so that other clients load it).

    Args:
        config: a goemox model's config.

    Example:

    ```python
    >>> native_config(GoEmoXConfig(encoder=DistilBertConfig(), pooling="cls")).model_type  # doctest: +SKIP
    'bert'
    ```"""
    encoder = config.encoder.to_dict()
    model_type = encoder.pop("model_type")
    for key in BOOKKEEPING_KEYS:
        encoder.pop(key, None)
    encoder.pop("num_labels", None)
    if model_type == "distilbert":
        encoder = distilbert_config_as_bert(encoder)
    encoder.update(
        id2label=dict(config.id2label),
        label2id=dict(config.label2id),
        problem_type="multi_label_classification",
        classifier_dropout=config.classifier_dropout,
    )
    native = AutoConfig.for_model(NATIVE_MODEL_TYPES.get(model_type, model_type), **encoder)
    return copy_goemox_keys(config, native)


def to_native_model(model: PreTrainedModel) -> PreTrainedModel:
    """The same classifier as a native `*ForSequenceClassification` with goemox's weights.

    Args:
        model: a `GoEmoXForSequenceClassification` whose encoder family and pooling allow it
            (see `native_export_blocker`). A DistilBERT encoder becomes a `BertForSequenceClassification`.

    Raises:
        ValueError: when no native class computes the same function.

    Example:

    ```python
    >>> native = to_native_model(GoEmoXForSequenceClassification.from_pretrained("runs/bert"))  # doctest: +SKIP
    >>> type(native).__name__  # doctest: +SKIP
    'BertForSequenceClassification'
    ```"""
    reason = native_export_blocker(model.config)
    if reason is not None:
        raise ValueError(f"no native export: {reason}")
    native = AutoModelForSequenceClassification.from_config(
        native_config(model.config), attn_implementation=model.config.encoder._attn_implementation
    )
    prefix = native.base_model_prefix
    encoder = model.encoder.state_dict()
    if model.config.encoder.model_type == "distilbert":
        encoder = distilbert_weights_as_bert(encoder)
    head = model.classifier
    weights = {f"{prefix}.{name}": tensor for name, tensor in encoder.items()}
    if prefix == "bert":
        weights["bert.pooler.dense.weight"] = head.dense.weight
        weights["bert.pooler.dense.bias"] = head.dense.bias
        weights["classifier.weight"] = head.out_proj.weight
        weights["classifier.bias"] = head.out_proj.bias
    else:
        weights = {name: tensor for name, tensor in weights.items() if ".pooler." not in name}
        for layer in ("dense", "out_proj"):
            weights[f"classifier.{layer}.weight"] = getattr(head, layer).weight
            weights[f"classifier.{layer}.bias"] = getattr(head, layer).bias
    load_all_weights(native, weights)
    return native.to(model.dtype).eval()


def load_all_weights(model: PreTrainedModel, weights: dict) -> None:
    """Load `weights` into `model`, refusing any missing or unexpected name (a mapping error, never a user's)."""
    expected = set(model.state_dict())
    if set(weights) != expected:
        raise ValueError(
            f"weights do not line up with {type(model).__name__}: missing {sorted(expected - set(weights))[:5]}, "
            f"unexpected {sorted(set(weights) - expected)[:5]}"
        )
    model.load_state_dict(weights)


def is_native_multilabel_classifier(config) -> bool:
    """Whether a config is a BERT- or RoBERTa-family `*ForSequenceClassification` with multi-label outputs.

    Every `goemox export hub` native export is one; so is any other such classifier trained with sigmoid outputs:
    its head computes goemox's first-token head, so it converts back with `from_native_model`. A single-label
    (softmax) classifier is not one, nor is a `DistilBertForSequenceClassification` (its head uses ReLU); a
    DistilBERT goemox model's export is a BERT one.

    Args:
        config: any transformers config.

    Example:

    ```python
    >>> is_native_multilabel_classifier(AutoConfig.from_pretrained("hub-folder/"))  # doctest: +SKIP
    True
    ```"""
    family = getattr(config, "model_type", None)
    if family not in set(NATIVE_MODEL_TYPES.values()):
        return False
    classifier = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES[family]
    return classifier in (config.architectures or []) and config.problem_type == "multi_label_classification"


def goemox_config_from_native(config) -> GoEmoXConfig:
    """The goemox configuration of a native classifier: its encoder's config, first-token pooling, its labels,
    its head's dropout and the goemox keys it carries (the inverse of `native_config`)."""
    encoder = config.to_dict()
    model_type = encoder.pop("model_type")
    for key in (*BOOKKEEPING_KEYS, *CLASSIFIER_KEYS):
        encoder.pop(key, None)
    dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    goemox = GoEmoXConfig(
        encoder=AutoConfig.for_model(model_type, **encoder),
        pooling="cls",
        classifier_dropout=dropout,
        id2label=dict(config.id2label),
        label2id=dict(config.label2id),
    )
    return copy_goemox_keys(config, goemox)


def from_native_model(native: PreTrainedModel) -> GoEmoXForSequenceClassification:
    """The same classifier as a `GoEmoXForSequenceClassification` with first-token pooling (the inverse of
    `to_native_model`).

    BERT's pooler becomes the Tanh layer and its classifier the output layer; RoBERTa's classifier.dense and
    classifier.out_proj move over by name. The encoder's own pooler, which goemox's forward never reads, holds the
    Tanh layer's weights too (RoBERTa's classifier has none of its own). The export of a DistilBERT model comes
    back with a BERT encoder, not a DistilBERT one: the BERT layers it was exported as, all-zero segment
    embeddings included, which compute the same function (and train on as a BERT model).

    Args:
        native: a model whose config passes `is_native_multilabel_classifier`.

    Raises:
        ValueError: when the model is not such a classifier.

    Example:

    ```python
    >>> native = AutoModelForSequenceClassification.from_pretrained("hub-folder/")  # doctest: +SKIP
    >>> from_native_model(native).config.pooling  # doctest: +SKIP
    'cls'
    ```"""
    if not is_native_multilabel_classifier(native.config):
        raise ValueError(f"{type(native).__name__} is not a native BERT- or RoBERTa-family multi-label classifier")
    prefix = native.base_model_prefix
    state = native.state_dict()
    weights = {
        f"encoder.{name.removeprefix(prefix + '.')}": tensor
        for name, tensor in state.items()
        if name.startswith(prefix + ".")
    }
    if prefix == "bert":
        head = {"dense": "bert.pooler.dense", "out_proj": "classifier"}
    else:
        head = {"dense": "classifier.dense", "out_proj": "classifier.out_proj"}
    for kind in ("weight", "bias"):
        for layer, source in head.items():
            weights[f"classifier.{layer}.{kind}"] = state[f"{source}.{kind}"]
        weights[f"encoder.pooler.dense.{kind}"] = state[f"{head['dense']}.{kind}"]
    model = GoEmoXForSequenceClassification(goemox_config_from_native(native.config))
    load_all_weights(model, weights)
    return model.to(native.dtype).eval()
