"""Prediction with a model exported by `goemox export onnx`, run by onnxruntime on CPU, without torch.

The process imports neither torch nor transformers: the exported folder's `tokenizer.json` runs in the `tokenizers`
library (the engine inside transformers' fast tokenizers, so the token ids are the same), `config.json` is read as
JSON, and onnxruntime runs the graph. That keeps a serving process small and quick to start (figures in
BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from goemox.errors import GoEmoXUsageError, first_line
from goemox.file_io import read_json_object
from goemox.inference.predictor import EmotionPredictor, LongText
from goemox.inference.windows import Windows, overflow_windows
from goemox.scores import stored_thresholds

EXPORT_RECORD = "onnx_export.json"
PRECISIONS = ("fp32", "int8")
INSTALL_HINT = "install it with `pip install 'goemox[onnx]'`"


def import_onnxruntime():
    """The `onnxruntime` module, or a usage error saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise GoEmoXUsageError(f"the ONNX backend needs onnxruntime; {INSTALL_HINT}") from None
    return onnxruntime


def read_json_file(path: Path, what: str) -> dict:
    """A JSON object from a file of an exported folder, or a usage error naming the file."""
    if not path.is_file():
        raise GoEmoXUsageError(f"{path}: missing; the folder needs its {what} (export the model again)")
    return read_json_object(path)


class StoredConfig:
    """A model's `config.json` as attributes, with `id2label` keyed by int: what prediction reads of a config
    (label names, `thresholds`, `ood_cutoff`, `calibration`, `label_scheme`) without transformers.

    Args:
        values: the parsed `config.json`.
        source: the file, for messages.

    Example:

    ```python
    >>> config = StoredConfig({"id2label": {"0": "joy"}, "thresholds": [0.4]})
    >>> config.id2label, config.num_labels, config.thresholds
    ({0: 'joy'}, 1, [0.4])
    ```"""

    def __init__(self, values: dict[str, Any], source: str = "config.json"):
        labels = values.get("id2label")
        if not isinstance(labels, dict) or not labels:
            raise GoEmoXUsageError(f"{source}: no id2label mapping; expected the label names of a trained classifier")
        try:
            id2label = {int(index): str(name) for index, name in labels.items()}
        except ValueError:
            raise GoEmoXUsageError(f"{source}: id2label keys must be label indices, got {sorted(labels)}") from None
        if sorted(id2label) != list(range(len(id2label))):
            raise GoEmoXUsageError(f"{source}: id2label must number the labels 0..{len(id2label) - 1}")
        self.__dict__.update(values)
        self.id2label = id2label
        self.num_labels = len(id2label)

    @classmethod
    def from_folder(cls, folder: str | Path) -> StoredConfig:
        path = Path(folder) / "config.json"
        return cls(read_json_file(path, "config.json"), str(path))


class TokenizerFile:
    """A fast tokenizer's `tokenizer.json` run by the `tokenizers` library as transformers runs it: special tokens
    added, cut into windows of a length (the overflowing tokens), padded with the tokenizer's pad token on its
    padding side.

    Args:
        tokenizer: a `tokenizers.Tokenizer`.
        pad_token_id: the id padding uses.
        padding_side: `"right"` or `"left"`.

    Example:

    ```python
    >>> tokenizer = TokenizerFile.from_folder("runs/demo-onnx")  # doctest: +SKIP
    >>> tokenizer.encode(["Hello there"], max_length=8)  # doctest: +SKIP
    {'input_ids': [[101, 7592, 2045, 102]], 'attention_mask': [[1, 1, 1, 1]], 'token_type_ids': [[0, 0, 0, 0]],
     'overflow_to_sample_mapping': [0]}
    ```"""

    def __init__(self, tokenizer, pad_token_id: int, padding_side: str = "right"):
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.pad_token_id = pad_token_id
        self.padding_side = padding_side

    @classmethod
    def from_folder(cls, folder: str | Path) -> TokenizerFile:
        """The tokenizer saved in an exported folder (`tokenizer.json` and `tokenizer_config.json`)."""
        from tokenizers import Tokenizer

        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise GoEmoXUsageError(
                f"{path}: missing; the onnx backend needs a fast tokenizer's tokenizer.json (export the model again)"
            )
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises a bare Exception for a malformed file
            raise GoEmoXUsageError(f"{path}: the tokenizers library cannot read it ({first_line(err)})") from None
        settings = read_json_file(folder / "tokenizer_config.json", "tokenizer_config.json")
        pad = settings.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        pad_id = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
        if pad_id is None:
            raise GoEmoXUsageError(f"{folder / 'tokenizer_config.json'}: no pad_token that tokenizer.json knows")
        side = settings.get("padding_side", "right")
        if side not in ("right", "left"):
            raise GoEmoXUsageError(f"{folder / 'tokenizer_config.json'}: padding_side must be right or left")
        return cls(tokenizer, pad_id, side)

    def encode(self, texts: list[str], max_length: int, stride: int = 0) -> dict[str, list]:
        """Every window of `max_length` tokens of each text, consecutive ones sharing `stride` tokens, as
        transformers' `tokenizer(texts, truncation=True, max_length=..., stride=..., return_overflowing_tokens=True)`
        gives them: `input_ids`, `attention_mask` and `token_type_ids` per window, unpadded, and
        `overflow_to_sample_mapping`, the text of each window."""
        self.tokenizer.enable_truncation(max_length, stride=stride)
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        windows = [(text, window) for text, e in enumerate(encodings) for window in [e, *e.overflowing]]
        return {
            "input_ids": [w.ids for _, w in windows],
            "attention_mask": [w.attention_mask for _, w in windows],
            "token_type_ids": [w.type_ids for _, w in windows],
            "overflow_to_sample_mapping": [text for text, _ in windows],
        }

    def special_tokens(self) -> int:
        """The tokens the tokenizer adds to one text."""
        return self.tokenizer.num_special_tokens_to_add(False)

    def pad(self, features: list[dict[str, list[int]]], names: list[str]) -> dict[str, np.ndarray]:
        """int64 arrays of the named inputs, padded to the longest row (pad id, mask 0, segment 0)."""
        width = max(len(row["input_ids"]) for row in features)
        fill = {"input_ids": self.pad_token_id}
        batch = {}
        for name in names:
            array = np.full((len(features), width), fill.get(name, 0), dtype=np.int64)
            for i, row in enumerate(features):
                values = row[name]
                if self.padding_side == "right":
                    array[i, : len(values)] = values
                else:
                    array[i, width - len(values) :] = values
            batch[name] = array
        return batch


def read_export_record(folder: str | Path) -> dict:
    """The `onnx_export.json` of an exported folder: its ONNX files by precision, inputs and parity check."""
    path = Path(folder) / EXPORT_RECORD
    if not path.is_file():
        raise GoEmoXUsageError(
            f"{folder}: not a `goemox export onnx` folder (no {EXPORT_RECORD}); export the model with "
            "`goemox export onnx MODEL_DIR OUT_DIR` and use OUT_DIR"
        )
    return read_json_file(path, EXPORT_RECORD)


def onnx_session(path: str | Path, num_threads: int | None = None):
    """An onnxruntime CPU session with every graph optimisation (fused attention, layer norm, GELU) turned on.

    Args:
        path: the `.onnx` file.
        num_threads: threads inside one operator; `None` lets onnxruntime use one per physical core.
    """
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except (ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.Fail) as err:
        raise GoEmoXUsageError(f"{path}: onnxruntime cannot load it ({str(err).splitlines()[0]})") from None


class OnnxEmotionClassifier(EmotionPredictor):
    """An `EmotionPredictor` whose forward pass is an ONNX model run by onnxruntime on CPU, with no torch.

    Batching, length sorting, thresholds, `ood_cutoff` and the prediction objects are `EmotionPredictor`'s (as for
    the PyTorch `EmotionClassifier`); the label names and thresholds come from the exported folder's `config.json`.

    Args:
        session: an `onnxruntime.InferenceSession` over a graph with token inputs and a `logits` output.
        config: the model config (`StoredConfig`, or a transformers config).
        tokenizer: a `TokenizerFile`.
        max_length: longest input in tokens (of each window, with `window`).
        batch_size: windows per forward pass.
        long_text: `"truncate"`, `"window"` or a `LongText`; `None`: the model's stored setting, else `truncate`.

    Example:

    ```python
    >>> clf = OnnxEmotionClassifier.from_pretrained("runs/demo-onnx", precision="int8")  # doctest: +SKIP
    >>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
    ['praise', 'joy']
    ```"""

    def __init__(
        self,
        session,
        config,
        tokenizer: TokenizerFile,
        max_length: int = 128,
        batch_size: int = 64,
        long_text: LongText | str | None = None,
    ):
        self.tokenizer = tokenizer
        super().__init__(config, max_length=max_length, batch_size=batch_size, long_text=long_text)
        self.session = session
        self.input_names = [node.name for node in session.get_inputs()]
        missing = [name for name in self.input_names if name not in ("input_ids", "attention_mask", "token_type_ids")]
        if missing:
            raise GoEmoXUsageError(f"the ONNX model takes {missing}, which its tokenizer does not produce")

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        *,
        precision: str = "fp32",
        num_threads: int | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        long_text: LongText | str | None = None,
    ) -> OnnxEmotionClassifier:
        """Load a folder written by `goemox export onnx`.

        Args:
            folder: the export folder (ONNX file(s), `config.json`, tokenizer, `onnx_export.json`).
            precision: `"fp32"`, or `"int8"` for the quantized model (`--quantize int8`).
            num_threads: onnxruntime threads inside one operator (default: one per physical core).
            max_length: longest input in tokens.
            batch_size: windows per forward pass.
            long_text: how texts longer than `max_length` are read (see `LongText`); `None`: the stored setting.
        """
        if precision not in PRECISIONS:
            raise GoEmoXUsageError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        if not Path(folder).is_dir():
            raise GoEmoXUsageError(f"{folder}: no such folder (the onnx backend reads a `goemox export onnx` folder)")
        files = read_export_record(folder)["files"]
        if precision not in files:
            raise GoEmoXUsageError(f"{folder}: no {precision} model (export it with `--quantize {precision}`)")
        path = Path(folder) / files[precision]
        if not path.is_file():
            raise GoEmoXUsageError(f"{path}: the {precision} model listed in {EXPORT_RECORD} is missing")
        config = StoredConfig.from_folder(folder)
        try:
            stored_thresholds(config)
        except ValueError as err:
            raise GoEmoXUsageError(f"{folder}: {first_line(err)}") from None
        tokenizer = TokenizerFile.from_folder(folder)
        session = onnx_session(path, num_threads)
        return cls(session, config, tokenizer, max_length=max_length, batch_size=batch_size, long_text=long_text)

    def _special_tokens(self) -> int:
        return self.tokenizer.special_tokens()

    def _encode(self, texts: list[str], stride: int | None) -> Windows:
        encoded = self.tokenizer.encode(texts, self.max_length, stride or 0)
        return overflow_windows(encoded, every_window=stride is not None)

    def _pad(self, features: list[dict[str, list[int]]]) -> dict[str, np.ndarray]:
        return self.tokenizer.pad(features, self.input_names)

    def _forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Logits of one padded batch (int64 arrays by input name)."""
        return self.session.run(["logits"], batch)[0]
