"""Command-line / config-file arguments of `goemox train`, as `HfArgumentParser` dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_ENCODER = "distilbert-base-uncased"
DEFAULT_DATASET = "google-research-datasets/go_emotions"
THRESHOLD_STRATEGIES = ("per_class", "global", "fixed")


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
class DataArguments:
    """Where the labelled texts come from and how they become model inputs."""

    dataset: str | None = field(
        default=DEFAULT_DATASET,
        metadata={
            "help": "'demo' (the packaged demo set), a Hub dataset id, a folder of GoEmotions TSV files, a "
            "save_to_disk folder, or a CSV/TSV/JSONL file. Not read when --train_file, --validation_file or "
            "--test_file is given."
        },
    )
    dataset_config: str | None = field(default="simplified", metadata={"help": "Hub dataset configuration."})
    train_file: str | None = field(default=None, metadata={"help": "CSV/TSV/JSONL training file."})
    validation_file: str | None = field(default=None, metadata={"help": "CSV/TSV/JSONL validation file."})
    test_file: str | None = field(default=None, metadata={"help": "CSV/TSV/JSONL test file."})
    text_column: str = field(default="text", metadata={"help": "Column holding the text."})
    label_column: str = field(default="labels", metadata={"help": "Column holding the labels (names or ids)."})
    label_separator: str = field(default=",", metadata={"help": "Separator between labels in one cell."})
    scheme: str | None = field(
        default=None,
        metadata={
            "help": "goemotions | ekman | sentiment | ten | path to a JSON mapping. Default: 'ten' for the "
            "demo set, 'goemotions' otherwise."
        },
    )
    max_length: int = field(default=128, metadata={"help": "Longest input in tokens (longer texts are truncated)."})
    on_bad_rows: str = field(default="error", metadata={"help": "error | skip", "choices": ["error", "skip"]})
    empty_rows: str = field(
        default="keep",
        metadata={"help": "Rows left with no label: keep (all-negative) | drop", "choices": ["keep", "drop"]},
    )
    validation_size: float = field(default=0.1, metadata={"help": "Share split off for validation if none is given."})
    test_size: float = field(default=0.1, metadata={"help": "Share split off for test if none is given."})
    split_seed: int = field(
        default=42, metadata={"help": "Seed of the stratified split and of the subsets (not the training seed)."}
    )
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

    def resolved_scheme(self) -> str:
        """The label scheme to use, applying the dataset-dependent default."""
        if self.scheme is not None:
            return self.scheme
        return "ten" if self.dataset == "demo" and self.train_file is None else "goemotions"
