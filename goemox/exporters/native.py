"""Export a goemox model as the encoder family's own sequence-classification class, when one has the same head.

BERT's `BertForSequenceClassification` computes [CLS] -> pooler Linear(h, h) + Tanh -> Dropout -> Linear, and
RoBERTa's / XLM-R's classification head computes first token -> Dropout -> Linear(h, h) + Tanh -> Dropout -> Linear.
At inference (dropout off) both equal goemox's head with first-token pooling, so the weights move over unchanged and
the exported checkpoint loads anywhere transformers does: the Hub widget, hosted inference, optimum, transformers.js.
The same mapping read backwards turns such a classifier into a goemox model again (`from_native_model`).
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

from goemox.configuration_goemox import GoEmoXConfig
from goemox.modeling_goemox import GoEmoXForSequenceClassification

NATIVE_ENCODER_FAMILIES = {
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "roberta",
}
"""Encoder `model_type` -> the attribute name of the encoder inside the native classifier."""

GOEMOX_CONFIG_KEYS = ("thresholds", "calibration_temperature", "ood_cutoff", "label_scheme")
"""goemox's extra config keys, carried over to a native config (transformers keeps unknown keys in config.json)."""

BOOKKEEPING_KEYS = ("architectures", "_name_or_path", "transformers_version", "dtype", "torch_dtype")
"""Config keys that describe a saved file rather than the network; never copied between configs."""

CLASSIFIER_KEYS = ("num_labels", "id2label", "label2id", "problem_type", "classifier_dropout", *GOEMOX_CONFIG_KEYS)
"""Keys of a native config that belong to its classification head, not to its encoder."""


def copy_goemox_keys(source, target):
    """Copy goemox's extra config keys that `source` sets (thresholds, calibration, OOD cutoff, scheme) onto
    `target`, and return `target`."""
    for key in GOEMOX_CONFIG_KEYS:
        value = getattr(source, key, None)
        if value is not None:
            setattr(target, key, value)
    return target


def native_export_blocker(config: GoEmoXConfig) -> str | None:
    """Why this model has no identical native class, or `None` when it has one."""
    family = config.encoder.model_type
    if family not in NATIVE_ENCODER_FAMILIES:
        return (
            f"the {family!r} encoder's native classification head differs from goemox's Linear + Tanh head "
            f"(identical heads exist for {', '.join(sorted(NATIVE_ENCODER_FAMILIES))})"
        )
    if config.pooling != "cls":
        return f"the model pools with {config.pooling!r}; native heads read the first token only"
    return None


def published_architecture(config: GoEmoXConfig, native: bool = True) -> tuple[str, str | None]:
    """The class a published repository names, and why it is not native (`None` when it is)."""
    blocker = native_export_blocker(config) if native else "native export was turned off"
    if blocker is None:
        return MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES[config.encoder.model_type], None
    return "GoEmoXForSequenceClassification", blocker


def native_config(config: GoEmoXConfig):
    """The native classifier's configuration: the encoder's own, plus labels, problem type and goemox's keys."""
    encoder = config.encoder.to_dict()
    model_type = encoder.pop("model_type")
    for key in BOOKKEEPING_KEYS:
        encoder.pop(key, None)
    encoder.pop("num_labels", None)
    encoder.update(
        id2label=dict(config.id2label),
        label2id=dict(config.label2id),
        problem_type="multi_label_classification",
        classifier_dropout=config.classifier_dropout,
    )
    native = AutoConfig.for_model(model_type, **encoder)
    return copy_goemox_keys(config, native)


def to_native_model(model: PreTrainedModel) -> PreTrainedModel:
    """The same classifier as a native `*ForSequenceClassification` with goemox's weights.

    Args:
        model: a `GoEmoXForSequenceClassification` whose encoder family and pooling allow it
            (see `native_export_blocker`).

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
    prefix = NATIVE_ENCODER_FAMILIES[model.config.encoder.model_type]
    native = AutoModelForSequenceClassification.from_config(
        native_config(model.config), attn_implementation=model.config.encoder._attn_implementation
    )
    head = model.classifier
    weights = {f"{prefix}.{name}": tensor for name, tensor in model.encoder.state_dict().items()}
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
    (softmax) classifier is not one.

    Args:
        config: any transformers config.

    Example:

    ```python
    >>> is_native_multilabel_classifier(AutoConfig.from_pretrained("hub-folder/"))  # doctest: +SKIP
    True
    ```"""
    family = getattr(config, "model_type", None)
    if family not in NATIVE_ENCODER_FAMILIES:
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
    Tanh layer's weights too (RoBERTa's classifier has none of its own).

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
    prefix = NATIVE_ENCODER_FAMILIES[native.config.model_type]
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
