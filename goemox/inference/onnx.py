"""Prediction with a model exported by `goemox export onnx`, run by onnxruntime on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from transformers import AutoConfig, AutoTokenizer

from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier, first_line
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


def read_export_record(folder: str | Path) -> dict:
    """The `onnx_export.json` of an exported folder: its ONNX files by precision, inputs and parity check."""
    path = Path(folder) / EXPORT_RECORD
    if not path.is_file():
        raise GoEmoXUsageError(
            f"{folder}: not a `goemox export onnx` folder (no {EXPORT_RECORD}); export the model with "
            "`goemox export onnx MODEL_DIR OUT_DIR` and use OUT_DIR"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise GoEmoXUsageError(f"{path}: not valid JSON ({err})") from None


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


class OnnxEmotionClassifier(EmotionClassifier):
    """`EmotionClassifier` whose forward pass is an ONNX model run by onnxruntime on CPU.

    Batching, length sorting, thresholds, `ood_cutoff` and the prediction objects are `EmotionClassifier`'s;
    the label names and thresholds come from the exported folder's `config.json`.

    Args:
        session: an `onnxruntime.InferenceSession` over a graph with token inputs and a `logits` output.
        config: the model config (label names, `thresholds`, `ood_cutoff`).
        tokenizer: the model's tokenizer.
        max_length: longest input in tokens; longer texts are truncated.
        batch_size: texts per forward pass.

    Example:

    ```python
    >>> clf = OnnxEmotionClassifier.from_pretrained("runs/demo-onnx", precision="int8")  # doctest: +SKIP
    >>> clf.predict(["Thank you so much, this made my day!"])[0].labels  # doctest: +SKIP
    ['praise', 'joy']
    ```"""

    batch_tensor_type = "np"

    def __init__(self, session, config, tokenizer, max_length: int = 128, batch_size: int = 64):
        super().__init__(None, tokenizer, max_length=max_length, batch_size=batch_size, config=config)
        self.session = session
        self.input_names = [node.name for node in session.get_inputs()]
        missing = [name for name in self.input_names if name not in tokenizer.model_input_names]
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
    ) -> OnnxEmotionClassifier:
        """Load a folder written by `goemox export onnx`.

        Args:
            folder: the export folder (ONNX file(s), `config.json`, tokenizer, `onnx_export.json`).
            precision: `"fp32"`, or `"int8"` for the dynamically quantized model (`--quantize int8`).
            num_threads: onnxruntime threads inside one operator (default: one per physical core).
            max_length: longest input in tokens.
            batch_size: texts per forward pass.
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
        try:
            config = AutoConfig.from_pretrained(folder)
            stored_thresholds(config)
            tokenizer = AutoTokenizer.from_pretrained(folder)
        except (OSError, ValueError) as err:
            raise GoEmoXUsageError(f"{folder}: could not load the config or tokenizer ({first_line(err)})") from None
        return cls(onnx_session(path, num_threads), config, tokenizer, max_length=max_length, batch_size=batch_size)

    def _forward(self, batch) -> np.ndarray:
        """Logits of one padded batch (a `BatchEncoding` of NumPy arrays)."""
        feed = {name: batch[name].astype(np.int64, copy=False) for name in self.input_names}
        return self.session.run(["logits"], feed)[0]
