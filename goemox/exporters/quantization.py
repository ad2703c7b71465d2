"""Static int8 quantization of an exported classifier: every activation range is fixed at export time.

onnxruntime's dynamic quantization scales each activation tensor by its range over the whole batch, so a text's
int8 scores move with whatever else is in the batch and with padding (measured on a MiniLM model: up to 0.98 in
probability). Static QDQ quantization reads the ranges from calibration texts once and stores them in the graph:
each row of every quantized matrix product is then computed from its own values only, so a text's scores are the
same alone, in any batch and at any position. Only the matrix products with a weight (the encoder's and the head's
linear layers) are quantized, weights per output channel, activations asymmetric uint8; attention, softmax,
LayerNorm and GELU stay fp32. On a CPU with AVX-512 VNNI onnxruntime runs those products as integer kernels.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CALIBRATION_METHODS = ("MinMax",)
"""How activation ranges are read from the calibration texts, tried in turn: the full observed range, or the
99.999th percentile of absolute values (which ignores rare outliers and keeps more resolution for the rest)."""

CALIBRATION_TEXTS = 512
"""Calibration texts used at most (sampled with a fixed seed from larger sets)."""

CALIBRATION_SEED = 0


def sample_texts(texts: list[str], limit: int = CALIBRATION_TEXTS, seed: int = CALIBRATION_SEED) -> list[str]:
    """At most `limit` of `texts`, sampled with a fixed seed, in their original order; blank texts are left out.

    Example:

    ```python
    >>> sample_texts(["a", "b", "c"], limit=2)
    ['a', 'c']
    ```"""
    texts = [text for text in texts if text.strip()]
    if len(texts) <= limit:
        return texts
    chosen = sorted(random.Random(seed).sample(range(len(texts)), limit))
    return [texts[i] for i in chosen]


def weighted_matmuls(model_path: Path) -> list[str]:
    """Names of the `MatMul` nodes of a graph that multiply by a stored weight (the linear layers)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    weights = {tensor.name for tensor in graph.initializer}
    return [node.name for node in graph.node if node.op_type == "MatMul" and any(i in weights for i in node.input)]


class TextFeeds:
    """An onnxruntime `CalibrationDataReader` over texts: one text per run, unpadded, cut at `max_length`, so the
    ranges are those of real tokens only.

    Args:
        texts: the calibration texts.
        encode: `encode(texts, max_length)` -> token lists by input name (`TokenizerFile.encode`).
        input_names: the graph's inputs.
        max_length: longest input in tokens.
    """

    def __init__(self, texts: list[str], encode: Callable, input_names: list[str], max_length: int):
        self.feeds = self._feeds(texts, encode, input_names, max_length)

    @staticmethod
    def _feeds(texts, encode, input_names, max_length) -> Iterator[dict[str, np.ndarray]]:
        for text in texts:
            encoded = encode([text], max_length)
            yield {name: np.asarray(encoded[name][:1], dtype=np.int64) for name in input_names}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def quantize_static_int8(
    fp32_path: Path,
    int8_path: Path,
    feeds: TextFeeds,
    method: str,
    large: bool = False,
) -> None:
    """Write the static QDQ int8 copy of `fp32_path`: weighted `MatMul`s with int8 weights per output channel and
    uint8 activations whose ranges `method` reads from `feeds`.

    Args:
        fp32_path: the fp32 graph.
        int8_path: where the int8 graph goes.
        feeds: the calibration inputs.
        method: one of :data:`CALIBRATION_METHODS`.
        large: store the weights as external data (graphs over 2 GB).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    # onnxruntime logs a pre-processing hint on the root logger for every call; it is meant for image models.
    hint = logging.Filter()
    hint.filter = lambda record: "pre-processing" not in record.getMessage()
    logging.getLogger().addFilter(hint)
    try:
        quantize_static(
            fp32_path,
            int8_path,
            feeds,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=weighted_matmuls(fp32_path),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, method),
            use_external_data_format=large,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    finally:
        logging.getLogger().removeFilter(hint)
    for leftover in int8_path.parent.glob("augmented_model*.onnx"):  # the calibration's working copy
        leftover.unlink()


def choose_quantization(
    fp32_path: Path,
    int8_path: Path,
    make_feeds: Callable[[], TextFeeds],
    score: Callable[[Path], dict],
    calibration: dict,
    large: bool = False,
) -> dict:
    """Quantize with each of :data:`CALIBRATION_METHODS`, keep at `int8_path` the copy whose label sets agree most
    with fp32 on the calibration texts (then the smallest probability difference), and say how each did.

    Args:
        fp32_path: the fp32 graph.
        int8_path: where the chosen int8 graph goes.
        make_feeds: a fresh reader over the calibration texts.
        score: `score(path) -> {"label_agreement", "max_abs_probability_difference"}` on the calibration texts.
        calibration: what the calibration texts were (recorded as given).
        large: store the weights as external data.

    Returns:
        The record: method, settings, the calibration texts and every candidate's figures.
    """
    tried = []
    for method in CALIBRATION_METHODS:
        candidate = int8_path.with_name(f"candidate-{method}-{int8_path.name}")
        quantize_static_int8(fp32_path, candidate, make_feeds(), method, large)
        tried.append({"calibrate_method": method, **score(candidate), "file": candidate})
    best = max(tried, key=lambda t: (t["label_agreement"], -t["max_abs_probability_difference"]))
    for entry in tried:
        if entry is best:
            entry["file"].replace(int8_path)
        else:
            entry["file"].unlink()
        del entry["file"]
    logger.info("int8 calibration kept: %s", best["calibrate_method"])
    return {
        "method": "onnxruntime.quantization.quantize_static (QDQ)",
        "nodes": "MatMul with a weight (linear layers)",
        "weights": "int8, symmetric, per output channel",
        "activations": "uint8, asymmetric, ranges fixed at export",
        "calibrate_method": best["calibrate_method"],
        "calibration_texts": calibration,
        "selected_by": "label agreement with fp32 on the calibration texts",
        "tried": tried,
    }
