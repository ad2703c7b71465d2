"""Command-line / config-file arguments of `goemox train` and `goemox search`, as `HfArgumentParser` dataclasses."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from goemox.analysis.ood import DEFAULT_OOD_QUANTILE, DEFAULT_OOD_SCORE
from goemox.calibration.logit_map import CALIBRATION_METHODS
from goemox.configuration_goemox import POOLING_MODES
from goemox.data.arguments import DataSourceArguments
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import THRESHOLD_STRATEGIES
from goemox.inference.loading import long_text_field
from goemox.inference.predictor import LongText, token_limit
from goemox.scores import OOD_SCORES

DEFAULT_ENCODER = "distilbert-base-uncased"


@dataclass
class ModelArguments:
    """Which encoder to fine-tune and how the head pools it."""

    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={
            "help": "Hub id or local folder of the encoder (any AutoModel), or of a trained goemox model (saved or "
            "native export) to continue from: its encoder, Tanh layer and the rows of shared labels are kept."
        },
    )
    pooling: str = field(default="cls", metadata={"help": "cls (first token) | mean (masked mean)"})
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout inside the Tanh head."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the encoder's own."})
    encoder_hidden_dropout: float | None = field(
        default=None, metadata={"help": "Encoder hidden-state dropout (default: the encoder's own)."}
    )
    encoder_attention_dropout: float | None = field(
        default=None, metadata={"help": "Encoder attention dropout (default: the encoder's own)."}
    )

    def __post_init__(self) -> None:
        if self.pooling not in POOLING_MODES:
            raise GoEmoXUsageError(f"--pooling must be one of {', '.join(POOLING_MODES)}, got {self.pooling!r}")
        for name in ("classifier_dropout", "encoder_hidden_dropout", "encoder_attention_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise GoEmoXUsageError(f"--{name} must be at least 0 and below 1, got {value}")


class ReplaceThenAppend(argparse.Action):
    """A repeatable option whose first use on the command line replaces the value of a config file (flags win), and
    whose later uses add to it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = getattr(namespace, self.dest, None)
        kept = [] if current is None or current is self.default else list(current)
        setattr(namespace, self.dest, kept + (list(values) if isinstance(values, list) else [values]))


SOURCES_HELP = """Several labelled corpora in one run (repeatable): NAME=DATASET, an inline YAML mapping such as
'{name: carer, dataset: ../shared/data/carer, label_column: label, single_label: true}', or a YAML/JSON file of such
entries; in a config file, a list under `datasets:`. Each entry takes the data options (inheriting the run's) and
mapping, annotates, known_negative, single_label, max_train_samples, max_eval_samples. A row's loss is masked to the
target labels its corpus annotates. --dataset and the split files are then not read."""


@dataclass
class DataArguments(DataSourceArguments):
    """Where the labelled texts come from (every :class:`DataSourceArguments` option) and how they become model
    inputs and thresholds."""

    max_length: int = field(default=128, metadata={"help": "Longest input in tokens (longer texts are truncated)."})
    long_text: str | None = long_text_field("long_text", training=True)
    long_text_stride: int | None = long_text_field("long_text_stride", training=True)
    long_text_aggregation: str | None = long_text_field("long_text_aggregation", training=True)
    max_train_samples: int | None = field(default=None, metadata={"help": "Use a seeded random subset of train."})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use seeded random subsets of validation and test."}
    )
    train_on: str = field(
        default="train",
        metadata={
            "help": "train | train+validation | train+validation+test: the final model, trained for the given epochs "
            "with no early stopping and the thresholds of --thresholds_from",
            "choices": ["train", "train+validation", "train+validation+test"],
        },
    )
    thresholds_from: str | None = field(
        default=None, metadata={"help": "A validated run's model folder whose thresholds a --train_on model keeps."}
    )
    threshold_strategy: str = field(
        default="per_class",
        metadata={
            "help": "Thresholds stored with the model, tuned on validation",
            "choices": list(THRESHOLD_STRATEGIES),
        },
    )
    calibration: str = field(
        default="platt",
        metadata={
            "help": "Calibration fitted on validation after training and folded into the output layer (thresholds "
            "re-tuned after it): platt (per-label sigmoid(a * logit + b), default), temperature, "
            "per_label_temperature or none",
            "choices": list(CALIBRATION_METHODS),
        },
    )
    ood_score: str = field(
        default=DEFAULT_OOD_SCORE,
        metadata={
            "help": "Score of the out-of-domain cutoff stored with the model (predictions carry `unfamiliar`): "
            "negative_energy (default), max_probability, or none",
            "choices": [*OOD_SCORES, "none"],
        },
    )
    ood_quantile: float = field(
        default=DEFAULT_OOD_QUANTILE,
        metadata={"help": "Share of validation texts below the stored out-of-domain cutoff (default 0.05)."},
    )
    datasets: list[str] | None = field(
        default=None,
        metadata={"help": SOURCES_HELP, "aliases": ["--source"], "action": ReplaceThenAppend, "metavar": "SOURCE"},
    )
    select_on: str = field(
        default="pooled",
        metadata={
            "help": "With several corpora: the validation macro-F1 that early stopping and checkpoint choice use, "
            "'pooled' (over every annotated row and label, default) or a source's name (its annotated labels)."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_length", "max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise GoEmoXUsageError(f"--{name} must be at least 1, got {value}")
        if not 0 < self.ood_quantile < 1:
            raise GoEmoXUsageError(f"--ood_quantile must be between 0 and 1, got {self.ood_quantile}")
        LongText.of(self).resolved(None, self.max_length, 0)  # with the tokenizer's special tokens once it is loaded
        names = [spec.name for spec in self.source_specs()]
        if self.select_on != "pooled" and self.select_on not in names:
            raise GoEmoXUsageError(
                f"--select_on {self.select_on}: expected 'pooled'"
                + (f" or a source name ({', '.join(names)})" if names else " (a source name needs --source corpora)")
            )

    def source_specs(self) -> list:
        """The `--source` / `datasets:` corpora of the run, checked (empty for a one-corpus run)."""
        from goemox.data.corpora import parse_sources

        return parse_sources(self.datasets, self) if self.datasets else []


def run_inputs(model_args: ModelArguments, data_args: DataArguments) -> list[str | None]:
    """What a training run reads by name: the model, the tokenizer, the data of every corpus and `--thresholds_from`
    (Hub ids among them too: the output checks ignore what is not a local path).

    Example:

    ```python
    >>> run_inputs(ModelArguments("../shared/models/all-MiniLM-L6-v2"), DataArguments(dataset="demo"))  # doctest: +SKIP
    ['../shared/models/all-MiniLM-L6-v2', None, None, 'demo']
    ```"""
    sources = [data_args, *(spec.options for spec in data_args.source_specs())]
    data = [name for source in sources for name in (source.dataset, *source.split_files().values())]
    return [model_args.model_name_or_path, model_args.tokenizer_name, data_args.thresholds_from, *data]


def read_model_config(model_name_or_path: str):
    """The config of `--model_name_or_path` (an encoder, a saved goemox model or a native export of one).

    Args:
        model_name_or_path: Hub id or local folder.

    Raises:
        GoEmoXUsageError: in one line, when no config can be read from it.

    Example:

    ```python
    >>> read_model_config("runs/demo").model_type  # doctest: +SKIP
    'goemox'
    ```"""
    from transformers import AutoConfig

    from goemox.errors import first_line

    try:
        return AutoConfig.from_pretrained(model_name_or_path)
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(
            f"--model_name_or_path {model_name_or_path}: cannot read its config.json ({first_line(err)}); expected "
            "a local model folder or a Hub model id reachable from here"
        ) from None


def encoder_token_limit(model_name_or_path: str) -> int | None:
    """The longest input an encoder takes (a saved goemox model: its encoder's), from its config alone.

    Args:
        model_name_or_path: Hub id or folder of an encoder or of a saved goemox model.

    Returns:
        `max_position_embeddings`, less RoBERTa's position offset; `None` when the config states no limit.

    Example:

    ```python
    >>> encoder_token_limit("roberta-base")  # doctest: +SKIP
    512
    ```"""
    return token_limit(read_model_config(model_name_or_path))


def check_max_length(model_args: ModelArguments, data_args: DataArguments) -> None:
    """Refuse a `--max_length` above the encoder's position limit, before any data is read or model built.

    Args:
        model_args: the encoder (or saved goemox model) to train.
        data_args: holds `max_length`.

    Example:

    ```python
    >>> check_max_length(ModelArguments(), DataArguments(max_length=4096))  # doctest: +SKIP
    GoEmoXUsageError: --max_length 4096 is above the 512 tokens of distilbert-base-uncased; ...
    ```"""
    limit = encoder_token_limit(model_args.model_name_or_path)
    if limit is not None and data_args.max_length > limit:
        raise GoEmoXUsageError(
            f"--max_length {data_args.max_length} is above the {limit} tokens of {model_args.model_name_or_path}; "
            f"pass --max_length {limit} or less"
        )
