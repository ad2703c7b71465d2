"""Command-line / config-file arguments of `goemox train` and `goemox search`, as `HfArgumentParser` dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from goemox.data.arguments import DataSourceArguments
from goemox.evaluation.metrics import THRESHOLD_STRATEGIES

DEFAULT_ENCODER = "distilbert-base-uncased"


@dataclass
class ModelArguments:
    """Which encoder to fine-tune and how the head pools it."""

    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={"help": "Hub id or local folder of the encoder (any AutoModel), or of a saved goemox model."},
    )
    pooling: str = field(
        default="cls", metadata={"help": "cls (first token) | mean (masked mean)", "choices": ["cls", "mean"]}
    )
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout inside the Tanh head."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the encoder's own."})
    encoder_hidden_dropout: float | None = field(
        default=None, metadata={"help": "Encoder hidden-state dropout (default: the encoder's own)."}
    )
    encoder_attention_dropout: float | None = field(
        default=None, metadata={"help": "Encoder attention dropout (default: the encoder's own)."}
    )


@dataclass
class DataArguments(DataSourceArguments):
    """Where the labelled texts come from (every :class:`DataSourceArguments` option) and how they become model
    inputs and thresholds."""

    max_length: int = field(default=128, metadata={"help": "Longest input in tokens (longer texts are truncated)."})
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
