"""The model a training run starts from: a fresh head on an encoder, or a trained goemox model (saved, or exported
as a native BERT/RoBERTa classifier) that keeps its encoder and Tanh layer and whose output rows follow the label
names of the run's scheme."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import TypeVar

import torch
from transformers import AutoModelForSequenceClassification

from goemox.configuration_goemox import GoEmoXConfig
from goemox.errors import GoEmoXError, GoEmoXUsageError, first_line
from goemox.exporters.native import from_native_model, is_native_multilabel_classifier
from goemox.labels import LabelScheme
from goemox.modeling_goemox import GoEmoXForSequenceClassification, encoder_dropout_overrides
from goemox.run_folder import StartingPoint
from goemox.training.arguments import ModelArguments, read_model_config

logger = logging.getLogger(__name__)

Loaded = TypeVar("Loaded")


def label_names(config) -> list[str]:
    """A classifier config's label names in output order."""
    return [config.id2label[i] for i in range(config.num_labels)]


def starting_point(model_name_or_path: str, scheme: LabelScheme) -> StartingPoint:
    """What `--model_name_or_path` is and which of the scheme's labels its output layer already has, from its config.

    A saved goemox model is `"goemox"`; a BERT- or RoBERTa-family `*ForSequenceClassification` with multi-label
    outputs (`is_native_multilabel_classifier`) is `"native"`; anything else is an `"encoder"` (a single-label
    native classifier's head is not carried: it was trained for softmax outputs).

    Args:
        model_name_or_path: Hub id or local folder.
        scheme: the run's label scheme.

    Raises:
        GoEmoXUsageError: when no config can be read from `model_name_or_path`.

    Example:

    ```python
    >>> starting_point("runs/ten", get_label_scheme("ekman")).carried  # doctest: +SKIP
    ['anger', 'fear', 'joy', 'sadness']
    ```"""
    config = read_model_config(model_name_or_path)
    labels = list(scheme.labels)
    if isinstance(config, GoEmoXConfig):
        kind = "goemox"
    elif is_native_multilabel_classifier(config):
        kind = "native"
    else:
        return StartingPoint("encoder", model_name_or_path, carried=[], new=labels, dropped=[])
    saved = label_names(config)
    return StartingPoint(
        kind,
        model_name_or_path,
        carried=[name for name in labels if name in saved],
        new=[name for name in labels if name not in saved],
        dropped=[name for name in saved if name not in labels],
    )


def adapt_to_scheme(
    trained: GoEmoXForSequenceClassification,
    scheme: LabelScheme,
    encoder_hidden_dropout: float | None = None,
    encoder_attention_dropout: float | None = None,
) -> GoEmoXForSequenceClassification:
    """A model for `scheme` that starts from a trained goemox model.

    The new model has the trained model's encoder (config and weights), pooling, classifier dropout and Tanh layer.
    Each of the scheme's labels that the trained model has (by name, in any order) takes over its output row,
    weights and bias; the other labels keep the fresh initialisation of `_init_weights`. Nothing else of the
    trained config moves over: thresholds, calibration temperature, OOD cutoff and label scheme belong to the old
    outputs, and the run tunes its own.

    Args:
        trained: the trained model.
        scheme: the labels to predict.
        encoder_hidden_dropout: the encoder's hidden-state dropout (`None` keeps the trained model's).
        encoder_attention_dropout: the encoder's attention dropout (`None` keeps the trained model's).

    Example:

    ```python
    >>> trained = GoEmoXForSequenceClassification.from_pretrained("runs/ten")  # doctest: +SKIP
    >>> adapt_to_scheme(trained, get_label_scheme("ekman")).config.num_labels  # doctest: +SKIP
    7
    ```"""
    encoder_config = copy.deepcopy(trained.config.encoder)
    for attribute, value in encoder_dropout_overrides(
        encoder_config, encoder_hidden_dropout, encoder_attention_dropout
    ).items():
        setattr(encoder_config, attribute, value)
    labels = list(scheme.labels)
    config = GoEmoXConfig(
        encoder=encoder_config,
        pooling=trained.config.pooling,
        classifier_dropout=trained.config.classifier_dropout,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        label_scheme=scheme.to_dict(),
    )
    model = GoEmoXForSequenceClassification(config).to(trained.dtype)
    model.encoder.load_state_dict(trained.encoder.state_dict())
    model.classifier.dense.load_state_dict(trained.classifier.dense.state_dict())
    saved_rows = {name: row for row, name in enumerate(label_names(trained.config))}
    old, new = trained.classifier.out_proj, model.classifier.out_proj
    with torch.no_grad():
        for row, name in enumerate(labels):
            if name in saved_rows:
                new.weight[row] = old.weight[saved_rows[name]]
                new.bias[row] = old.bias[saved_rows[name]]
    model.name_or_path = trained.name_or_path
    return model


def explained_load(load: Callable[[], Loaded], source: str, what: str) -> Loaded:
    """Run `load`, turning a library's loading error into one line that names `--model_name_or_path`."""
    try:
        return load()
    except GoEmoXError:
        raise
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(
            f"--model_name_or_path {source}: cannot load it as {what} ({first_line(err)}); expected an encoder "
            "folder or Hub id (any AutoModel), a saved goemox model, or a native export of one"
        ) from None


def build_model(model_args: ModelArguments, scheme: LabelScheme) -> GoEmoXForSequenceClassification:
    """The model a run trains: a fresh head on an encoder, or a trained goemox / native model adapted to `scheme`.

    A trained model keeps its own pooling and classifier dropout (a logged line says which apply: `--pooling` and
    `--classifier_dropout` have defaults, so a conflicting explicit value cannot be told apart); the
    `--encoder_*_dropout` options, unset by default, apply to it when given.

    Args:
        model_args: `--model_name_or_path` and the head options.
        scheme: the run's label scheme.

    Raises:
        GoEmoXUsageError: in one line, when `--model_name_or_path` loads as none of these.

    Example:

    ```python
    >>> model = build_model(ModelArguments(model_name_or_path="runs/ten"), get_label_scheme("ekman"))  # doctest: +SKIP
    ```"""
    source = model_args.model_name_or_path
    start = starting_point(source, scheme)
    if start.kind == "encoder":
        return explained_load(
            lambda: GoEmoXForSequenceClassification.from_encoder(
                source,
                scheme,
                pooling=model_args.pooling,
                classifier_dropout=model_args.classifier_dropout,
                encoder_hidden_dropout=model_args.encoder_hidden_dropout,
                encoder_attention_dropout=model_args.encoder_attention_dropout,
            ),
            source,
            "an encoder",
        )
    if start.kind == "goemox":
        trained = explained_load(
            lambda: GoEmoXForSequenceClassification.from_pretrained(source, dtype=torch.float32),
            source,
            "a saved goemox model",
        )
    else:
        native = explained_load(
            lambda: AutoModelForSequenceClassification.from_pretrained(source, dtype=torch.float32),
            source,
            "a native classifier",
        )
        trained = from_native_model(native)
    logger.info(
        "Continuing from the %s; it keeps its own pooling (%s) and classifier dropout (%s): --pooling and "
        "--classifier_dropout apply to fresh encoders only",
        start.summary(),
        trained.config.pooling,
        trained.config.classifier_dropout,
    )
    if not start.carried:
        logger.warning(
            "%s shares no label with the scheme %r: only its encoder and Tanh layer are kept, every output row "
            "starts fresh",
            source,
            scheme.name,
        )
    return adapt_to_scheme(trained, scheme, model_args.encoder_hidden_dropout, model_args.encoder_attention_dropout)
