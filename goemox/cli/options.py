"""Options several commands share, as dataclasses: the saved model a command reads, and how output is written.

Naming rules (every command): `--model` is the saved model a command reads (`goemox train` keeps transformers'
`--model_name_or_path`, with `--model` as an alias); `--output_dir` is a folder a command writes, `--output` a file;
`--overwrite` lets either replace what is there (`--overwrite_output_dir` still works as an alias)."""

from __future__ import annotations

from dataclasses import dataclass, field

from goemox.errors import GoEmoXUsageError
from goemox.inference.loading import BACKENDS, long_text_field
from goemox.inference.onnx import PRECISIONS
from goemox.inference.predictor import LongText


@dataclass
class SavedModelArguments:
    """The saved model a command reads.

    Args:
        model: a saved model folder or Hub id (or, with `--backend onnx`, a `goemox export onnx` folder).
        max_length: longest input in tokens; longer texts are truncated or read in windows (`long_text`).
        batch_size: texts (windows, with `long_text` window) per forward pass.
        allow_pickle_weights: also read a model whose only weights are `pytorch_model.bin` (a pickle, which can
            run code while it loads); without it only safetensors weights are read.
        long_text: `truncate` or `window` (`None`: the model's stored setting, else truncate).
        long_text_stride: tokens shared by consecutive windows (`None`: the model's, else 32).
        long_text_aggregation: `max` or `mean` over a text's windows (`None`: the model's, else max).
    """

    model: str = field(metadata={"help": "Saved model folder or Hub id (with --backend onnx: an export folder)."})
    max_length: int = field(default=128, metadata={"help": "Longest input in tokens (longer texts: see --long_text)."})
    batch_size: int = field(default=64, metadata={"help": "Texts (windows) per forward pass."})
    allow_pickle_weights: bool = field(
        default=False,
        metadata={
            "help": "Also read pytorch_model.bin weights (a pickle can run code while it loads: only for models you "
            "trust); by default only safetensors weights are read."
        },
    )
    long_text: str | None = long_text_field("long_text")
    long_text_stride: int | None = long_text_field("long_text_stride")
    long_text_aggregation: str | None = long_text_field("long_text_aggregation")

    def __post_init__(self) -> None:
        check_at_least("max_length", self.max_length, 1)
        check_at_least("batch_size", self.batch_size, 1)

    def load(self, backend: BackendArguments | None = None, device: str | None = None):
        """The classifier (see :func:`goemox.inference.loading.load_classifier`).

        Args:
            backend: the backend options; `None` for PyTorch.
            device: where a torch model runs (default: CUDA when available).
        """
        from goemox.inference.loading import load_classifier

        backend = backend or BackendArguments()
        return load_classifier(
            self.model,
            self.max_length,
            self.batch_size,
            backend.backend,
            backend.precision,
            allow_pickle_weights=self.allow_pickle_weights,
            device=device,
            long_text=LongText.of(self),
        )


@dataclass
class BackendArguments:
    """Which runtime runs the model.

    Args:
        backend: `torch` (a saved model folder) or `onnx` (a `goemox export onnx` folder).
        precision: the ONNX model to run, `fp32` or `int8`.
    """

    backend: str = field(
        default="torch",
        metadata={
            "help": "torch: a saved model folder; onnx: a folder written by `goemox export onnx` (CPU, onnxruntime).",
            "choices": list(BACKENDS),
        },
    )
    precision: str = field(
        default="fp32",
        metadata={
            "help": "ONNX model to run (int8: the --quantize int8 copy, faster, slightly different scores).",
            "choices": list(PRECISIONS),
        },
    )

    def __post_init__(self) -> None:
        if self.precision != "fp32" and self.backend != "onnx":
            raise GoEmoXUsageError(f"--precision {self.precision} needs --backend onnx (the torch backend runs fp32)")


def check_at_least(option: str, value: float, minimum: float) -> None:
    """Refuse `--option value` below `minimum`, naming the option.

    Args:
        option: the option's name without dashes.
        value: its value.
        minimum: the smallest value allowed.
    """
    if value < minimum:
        raise GoEmoXUsageError(f"--{option} must be at least {minimum}, got {value}")


def overwrite_field(what: str = "the output"):
    """The `--overwrite` option (alias `--overwrite_output_dir`)."""
    return field(
        default=False,
        metadata={
            "help": f"Allow replacing {what} when it already holds files.",
            "aliases": ["--overwrite_output_dir"],
        },
    )


LABEL_MAP_HELP = """How the data's labels are read from the model's: a built-in scheme (ekman, sentiment, ten) or a
scheme JSON file, whose groups gather the model labels mapped onto them; or a YAML/JSON file of data label -> model
label name or list of names (e.g. {"happy": ["joy", "amusement"], "mad": "anger"}). A data label's score is the highest
probability among its model labels. Default: each label name the data uses stands for the model label of that name."""


def label_map_field():
    """The `--label_map FILE|SCHEME` option of the commands that score data in its own labels."""
    return field(default=None, metadata={"help": LABEL_MAP_HELP, "metavar": "FILE|SCHEME"})
