"""int8 copy of an exported classifier whose scores a text owns: block-wise int8 weights, int8 arithmetic per row.

onnxruntime's dynamic quantization scales each activation tensor by its range over the whole batch, so a text's
int8 scores move with whatever else is in the batch and with padding (measured on a MiniLM model: up to 0.98 in
probability). Static QDQ quantization fixes the ranges at export and is batch-independent, but one range per tensor
cannot serve the few very large hidden dimensions of BERT-like encoders and the long tail after GELU: on a trained
MiniLM it kept only 82% of the label sets (BENCHMARKS.md, `bench/int8_agreement.py`).

Here each linear layer becomes onnxruntime's `MatMulNBits`: weights int8 in blocks of :data:`BLOCK_SIZE` input
values along each output column, each block with its own scale, and (`accuracy_level` 4) the activations quantized
to int8 in blocks of the same size *per row* as the product runs, then multiplied in int8 (VNNI kernels where the
CPU has them). A row is a token of one text, so a text's scores depend on nothing else in the batch, and the small
blocks keep the outlier dimensions apart from the rest. Attention, softmax, LayerNorm and GELU stay fp32.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BITS = 8
BLOCK_SIZE = 32
"""Input values per quantization block: measured on the reference model, 32 keeps more label sets than 128 and is
batch-independent, where 128 was not (onnxruntime runs another kernel for some row counts)."""
ACCURACY_LEVEL = 4
"""onnxruntime's `MatMulNBits` accuracy level 4: activations quantized to int8 per row block, int8 arithmetic."""


@contextmanager
def root_logging_kept() -> Iterator[None]:
    """Undo on exit what onnxruntime's quantizer does to the root logger: its module calls `logging.basicConfig` at
    import (a handler at INFO level), after which every library's INFO records, its own per-node lines included,
    would be printed."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def quantize_int8(fp32_path: Path, int8_path: Path) -> dict:
    """Write the int8 copy of `fp32_path` (every `MatMul` with a weight as a block-wise `MatMulNBits`) and say how.

    Args:
        fp32_path: the fp32 graph.
        int8_path: where the int8 graph goes.

    Returns:
        The record of the method and its settings.

    Example:

    ```python
    >>> quantize_int8(Path("out/onnx/model.onnx"), Path("out/onnx/model_quantized.onnx"))["bits"]  # doctest: +SKIP
    8
    ```"""
    import onnx

    with root_logging_kept():
        from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer
    config = DefaultWeightOnlyQuantConfig(
        block_size=BLOCK_SIZE, is_symmetric=True, accuracy_level=ACCURACY_LEVEL, bits=BITS
    )
    quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32_path)), algo_config=config)
    with root_logging_kept():
        quantizer.process()
    quantizer.model.save_model_to_file(str(int8_path), use_external_data_format=False)
    return {
        "method": "onnxruntime MatMulNBitsQuantizer (MatMulNBits)",
        "bits": BITS,
        "block_size": BLOCK_SIZE,
        "symmetric": True,
        "accuracy_level": ACCURACY_LEVEL,
        "weights": f"int8 per block of {BLOCK_SIZE} input values along each output column",
        "activations": f"int8 per block of {BLOCK_SIZE} values of each row, at run time (a text's own tokens only)",
    }
