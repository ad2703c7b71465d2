"""Where labelled texts come from and how to read them: the data options every command that reads labelled data
shares (`goemox train`, `search`, `evaluate`, `calibrate`, `data stats`), as one `HfArgumentParser` dataclass.

Example:

```python
>>> from goemox.data.arguments import DataSourceArguments
>>> options = DataSourceArguments(dataset="demo")
>>> options.resolved_scheme()
'ten'
```"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from goemox.errors import GoEmoXUsageError

DEFAULT_DATASET = "google-research-datasets/go_emotions"
DEMO_DATASET = "demo"
SPLIT_FILES = ("train_file", "validation_file", "test_file")


@dataclass
class DataSourceArguments:
    """Where the labelled texts come from and how their rows are read.

    Args:
        dataset: `demo`, a Hub dataset id, a GoEmotions TSV folder, a `save_to_disk` folder, or a data file.
        dataset_config: the Hub dataset configuration (`none` for a dataset without one).
        train_file: CSV/TSV/JSONL/JSON training file (the split files win over `dataset`).
        validation_file: validation file.
        test_file: test file.
        text_column: column holding the text.
        label_column: column holding the labels (names or ids).
        label_separator: separator between labels in one cell.
        scheme: label scheme name or JSON mapping path.
        on_bad_rows: `error` stops at the first bad row, `skip` skips and counts it.
        empty_rows: rows left with no label: `keep` (all-negative) or `drop`.
        validation_size: share of train split off as validation when there is none.
        test_size: share of train split off as test when there is none.
        split_seed: seed of the stratified split and of the subsets.
    """

    dataset: str | None = field(
        default=DEFAULT_DATASET,
        metadata={
            "help": "'demo' (the packaged demo set), a Hub dataset id, a folder of GoEmotions TSV files, a "
            "save_to_disk folder, or a CSV/TSV/JSONL file. Not read when --train_file, --validation_file or "
            "--test_file is given."
        },
    )
    dataset_config: str | None = field(
        default="simplified", metadata={"help": "Hub dataset configuration ('none' for a dataset without one)."}
    )
    train_file: str | None = field(default=None, metadata={"help": "CSV/TSV/JSONL training file."})
    validation_file: str | None = field(default=None, metadata={"help": "CSV/TSV/JSONL validation file."})
    test_file: str | None = field(default=None, metadata={"help": "CSV/TSV/JSONL test file."})
    text_column: str = field(default="text", metadata={"help": "Column holding the text."})
    label_column: str = field(default="labels", metadata={"help": "Column holding the labels (names or ids)."})
    label_separator: str = field(default=",", metadata={"help": "Separator between labels in one cell."})
    scheme: str | None = field(
        default=None,
        metadata={
            "help": "goemotions | ekman | sentiment | ten | path to a JSON mapping. Default: for training, 'ten' for "
            "the demo set and 'goemotions' otherwise; for a saved model, the scheme stored with it."
        },
    )
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

    def __post_init__(self) -> None:
        if isinstance(self.dataset_config, str) and self.dataset_config.lower() == "none":
            self.dataset_config = None
        for name in ("validation_size", "test_size"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise GoEmoXUsageError(f"--{name} must be at least 0 and below 1, got {getattr(self, name)}")
        if self.validation_size + self.test_size >= 1.0:
            raise GoEmoXUsageError(
                f"--validation_size ({self.validation_size}) plus --test_size ({self.test_size}) must stay below 1"
            )
        if not self.label_separator:
            raise GoEmoXUsageError("--label_separator must not be empty")

    def resolved_scheme(self) -> str:
        """The label scheme for training: the one given, else `ten` for the demo set and `goemotions` otherwise."""
        if self.scheme is not None:
            return self.scheme
        return "ten" if self.dataset == DEMO_DATASET and not self.split_files() else "goemotions"

    def split_files(self) -> dict[str, str]:
        """The split files given, by option name."""
        return {name: getattr(self, name) for name in SPLIT_FILES if getattr(self, name)}

    def source_name(self) -> str:
        """What was read, as the user named it: the split files when given (they win over `dataset`), else
        `dataset`."""
        files = self.split_files()
        if files:
            return ", ".join(f"{name} {path}" for name, path in files.items())
        return str(self.dataset)

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`goemox.data.load_emotion_dataset` (all but `scheme`)."""
        return {
            "source": self.dataset,
            "train_file": self.train_file,
            "validation_file": self.validation_file,
            "test_file": self.test_file,
            "dataset_config": self.dataset_config,
            "text_column": self.text_column,
            "label_column": self.label_column,
            "label_separator": self.label_separator,
            "on_bad_rows": self.on_bad_rows,
            "empty_rows": self.empty_rows,
            "validation_size": self.validation_size,
            "test_size": self.test_size,
            "seed": self.split_seed,
        }
