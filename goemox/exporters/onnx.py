"""Export a saved multi-label sequence classifier to ONNX (fp32, optionally int8), checked against PyTorch.

The graph is traced with `torch.onnx.export(dynamo=True)` (the `torch.export` path, translated by onnxscript).
The older TorchScript tracer (`dynamo=False`) does not work for transformers 5 models: it records the Python
that builds the attention mask as constants, so padded batches differ from PyTorch by ~4e-3 in probability, and
for DistilBERT it drops the `attention_mask` input altogether.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import shutil
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.onnx import EXPORT_RECORD, INSTALL_HINT, OnnxEmotionClassifier, import_onnxruntime
from goemox.modeling_goemox import GoEmoXForSequenceClassification
from goemox.reporting.files import check_output_folder, staged_folder, write_json_atomically
from goemox.resources import demo_texts
from goemox.scores import apply_thresholds

FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FP32_TOLERANCE = 1e-4
PROTOBUF_LIMIT_BYTES = 2**31 - 1
QUANTIZATION = {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8", "per_channel": True}


class LogitsOnly(torch.nn.Module):
    """A classifier's forward pass with token inputs by name and the logits tensor as its only output."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        return self.model(**inputs).logits


def graph_input_names(model: PreTrainedModel, tokenizer) -> list[str]:
    """Token inputs of the exported graph: those the tokenizer produces that the network's forward takes.

    For a goemox model the encoder decides (a DistilBERT encoder ignores `token_type_ids`).
    """
    network = model.encoder if isinstance(model, GoEmoXForSequenceClassification) else model
    accepted = inspect.signature(network.forward).parameters
    names = [name for name in TOKEN_INPUTS if name in tokenizer.model_input_names and name in accepted]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise GoEmoXUsageError(
            f"expected a model and tokenizer that use input_ids and attention_mask; they share only {names}"
        )
    return names


def parity_texts() -> list[str]:
    """The 403 sentences of goemox's packaged demo set: real short texts of varied length."""
    return demo_texts()


def load_source(model_dir: Path) -> tuple[PreTrainedModel, object]:
    """The fp32 model and tokenizer of a saved folder, refusing models that are not multi-label classifiers."""
    if not (model_dir / "config.json").is_file():
        raise GoEmoXUsageError(f"{model_dir}: not a saved model folder (no config.json)")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(f"could not load {model_dir} as a sequence classifier: {err}") from None
    problem = model.config.problem_type
    if problem not in (None, "multi_label_classification"):
        raise GoEmoXUsageError(
            f"{model_dir / 'config.json'}: problem_type is {problem!r}; goemox exports multi-label classifiers "
            "(problem_type 'multi_label_classification')"
        )
    return model.eval(), tokenizer


def export_graph(model: PreTrainedModel, tokenizer, input_names: list[str], path: Path) -> int:
    """Write the fp32 graph with dynamic batch and sequence axes; returns its opset version."""
    sample = tokenizer(["A short one.", "A somewhat longer sentence, so that the batch has padding."], padding=True)
    inputs = {name: torch.tensor(sample[name], dtype=torch.long) for name in input_names}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    with torch.no_grad():
        program = torch.onnx.export(
            LogitsOnly(model).eval(),
            kwargs=inputs,
            input_names=input_names,
            output_names=["logits"],
            dynamo=True,
            dynamic_shapes={name: {0: batch, 1: sequence} for name in input_names},
            verbose=False,
        )
    program.save(str(path), external_data=weight_bytes > PROTOBUF_LIMIT_BYTES)
    return int(next(op.version for op in program.model_proto.opset_import if op.domain in ("", "ai.onnx")))


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8 quantization: int8 weights per output channel, activations quantized per batch at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    large = fp32_path.stat().st_size > PROTOBUF_LIMIT_BYTES
    quantize_dynamic(
        fp32_path, int8_path, per_channel=True, weight_type=QuantType.QInt8, use_external_data_format=large
    )


def compare(reference: np.ndarray, probs: np.ndarray, thresholds: list[float]) -> dict:
    """Largest probability difference and share of texts with the same label set at the given thresholds."""
    same = (apply_thresholds(reference, thresholds) == apply_thresholds(probs, thresholds)).all(axis=1)
    worst = float(np.abs(reference - probs).max())
    return {"max_abs_probability_difference": worst, "label_agreement": float(same.mean())}


def versions() -> dict[str, str]:
    """Versions of the libraries that wrote and checked the export."""
    names = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime")
    return {name: importlib.metadata.version(name) for name in names}


def export_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    quantize: str | None = None,
    overwrite: bool = False,
    check_texts: list[str] | None = None,
    batch_size: int = 16,
) -> dict:
    """Export a saved classifier to a self-contained ONNX folder and check it against the PyTorch model.

    The folder holds `model.onnx` (fp32), `model_int8.onnx` with `quantize="int8"`, the model's `config.json`
    (label names, `thresholds`, `calibration_temperature`, `ood_cutoff` as saved), the tokenizer files, and
    `onnx_export.json`, which records which file is which, the graph's inputs, and the parity check: the
    largest probability difference from PyTorch and the label agreement at the stored thresholds on
    `check_texts` (default: goemox's 403 demo sentences), run through `EmotionClassifier`'s padded batches.
    Everything is written to a folder beside `out_dir` first and swapped in only after the check passes, so a
    failed export leaves `out_dir` as it was.

    Args:
        model_dir: a folder `AutoModelForSequenceClassification` loads (goemox, BERT, RoBERTa, ...).
        out_dir: the export folder; it must not be, lie inside or hold the model folder.
        quantize: `"int8"` to add a dynamically quantized copy.
        overwrite: replace the export files of a non-empty `out_dir` (other files are kept).
        check_texts: texts for the parity check.
        batch_size: texts per padded batch in the parity check.

    Returns:
        The `onnx_export.json` record.

    Raises:
        GoEmoXUsageError: bad folders, a model that is not a multi-label classifier, missing ONNX packages, or an
            fp32 graph whose probabilities differ from PyTorch by more than 1e-4.

    Example:

    ```python
    >>> record = export_onnx("runs/demo", "runs/demo-onnx", quantize="int8")  # doctest: +SKIP
    >>> record["parity"]["fp32"]["max_abs_probability_difference"] < 1e-4  # doctest: +SKIP
    True
    ```"""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if quantize not in (None, "int8"):
        raise GoEmoXUsageError(f"quantize must be 'int8' or None, got {quantize!r}")
    for package in ("onnx", "onnxscript"):
        if importlib.util.find_spec(package) is None:
            raise GoEmoXUsageError(f"ONNX export needs {package}; {INSTALL_HINT}")
    import_onnxruntime()
    check_output_folder(out_dir, overwrite, inputs=[model_dir], option="--output_dir")
    model, tokenizer = load_source(model_dir)
    input_names = graph_input_names(model, tokenizer)
    texts = check_texts or parity_texts()
    reference = EmotionClassifier(model, tokenizer, batch_size=batch_size)
    torch_probs = reference.predict_proba(texts)
    precisions = ["fp32"] + (["int8"] if quantize else [])

    with staged_folder(out_dir) as staging:
        opset = export_graph(model, tokenizer, input_names, staging / FILES["fp32"])
        if quantize:
            quantize_int8(staging / FILES["fp32"], staging / FILES["int8"])
        shutil.copy(model_dir / "config.json", staging / "config.json")
        tokenizer.save_pretrained(staging)
        record = {
            "files": {precision: FILES[precision] for precision in precisions},
            "inputs": input_names,
            "output": "logits",
            "dynamic_axes": {"batch": 0, "sequence": 1},
            "opset": opset,
            "exporter": "torch.onnx.export(dynamo=True)",
            "quantization": QUANTIZATION if quantize else None,
            "source_model": str(model_dir),  # as the user named it: no path of this machine in the record
            "versions": versions(),
        }
        write_json_atomically(staging / EXPORT_RECORD, record)
        # The check loads the staged folder as a user would, so it also proves the folder is self-contained.
        parity = {"texts": len(texts), "batch_size": batch_size, "reference": "PyTorch fp32 EmotionClassifier"}
        for precision in precisions:
            onnx_clf = OnnxEmotionClassifier.from_pretrained(staging, precision=precision, batch_size=batch_size)
            parity[precision] = compare(torch_probs, onnx_clf.predict_proba(texts), reference.thresholds)
        worst = parity["fp32"]["max_abs_probability_difference"]
        if not worst <= FP32_TOLERANCE:
            raise GoEmoXUsageError(
                f"the fp32 ONNX model differs from PyTorch by {worst:.2e} in probability (more than "
                f"{FP32_TOLERANCE:g}); nothing was written to {out_dir}"
            )
        record["parity"] = parity
        write_json_atomically(staging / EXPORT_RECORD, record)
        keep_other_files(out_dir, staging)
    return record


def keep_other_files(out_dir: Path, staging: Path) -> None:
    """Copy into `staging` the files of an existing `out_dir` that are not export files, so that swapping the new
    export in leaves them; an earlier export's ONNX models are not kept (they would not match the new one)."""
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        if entry.name in FILES.values() or (staging / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, staging / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
