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
import logging
import shutil
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from goemox.errors import GoEmoXUsageError, first_line
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.onnx import (
    EXPORT_RECORD,
    INSTALL_HINT,
    OnnxEmotionClassifier,
    StoredConfig,
    TokenizerFile,
    import_onnxruntime,
    onnx_session,
)
from goemox.modeling_goemox import GoEmoXForSequenceClassification
from goemox.reporting.files import check_output_folder, staged_folder, write_json_atomically
from goemox.resources import demo_texts
from goemox.scores import apply_thresholds

FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FP32_TOLERANCE = 1e-4
PROTOBUF_LIMIT_BYTES = 2**31 - 1

logger = logging.getLogger(__name__)
QUANTIZATION_CHOICES = [
    {"per_channel": per_channel, "reduce_range": reduce_range, "op_types_to_quantize": op_types}
    for op_types in (["MatMul"], None)
    for per_channel in (True, False)
    for reduce_range in (False, True)
]
"""The int8 settings tried at export (`None`: onnxruntime's default op types, which also quantize the embedding
`Gather`); the one whose label sets agree most with fp32 on the check texts is kept."""


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


def encoder_shape(model: PreTrainedModel) -> tuple[int, int]:
    """Attention heads and hidden size of a classifier's encoder (BERT, RoBERTa or DistilBERT naming)."""
    config = model.encoder.config if isinstance(model, GoEmoXForSequenceClassification) else model.config
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", 0)
    return int(heads), int(hidden)


def fuse_graph(fp32_path: Path, fused_path: Path, model: PreTrainedModel) -> dict[str, int]:
    """Apply onnxruntime's transformer optimizer (attention, LayerNorm, GELU fusions) and save the fused graph.

    Returns:
        The fused operators that were formed, by type (those with a count of 0 are left out).
    """
    from onnxruntime.transformers import optimizer

    heads, hidden = encoder_shape(model)
    fused = optimizer.optimize_model(
        str(fp32_path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
    )
    fused.save_model_to_file(str(fused_path), use_external_data_format=fp32_path.stat().st_size > PROTOBUF_LIMIT_BYTES)
    return {name: count for name, count in fused.get_fused_operator_statistics().items() if count}


def apply_fusions(fp32_path: Path, model: PreTrainedModel, score) -> dict:
    """Replace the fp32 graph by its fused form (:func:`fuse_graph`) when that keeps parity with PyTorch (1e-4 in
    probability); otherwise keep the graph as exported. Either way onnxruntime applies its own graph optimisations
    again when a session loads the file.

    Returns:
        What was done: the fused operators, whether they were kept, and the largest probability difference.
    """
    fused_path = fp32_path.with_name("fused-" + fp32_path.name)
    entry = {"tool": "onnxruntime.transformers.optimizer (model_type bert, opt_level 0)"}
    try:
        entry["fused_operators"] = fuse_graph(fp32_path, fused_path, model)
    except Exception as err:  # the optimizer is optional: a graph it cannot handle is kept as exported
        logger.warning(
            "onnxruntime's transformer optimizer failed (%s); the graph is kept as exported", first_line(err)
        )
        fused_path.unlink(missing_ok=True)
        return {**entry, "applied": False, "reason": first_line(err)}
    check = score(fused_path)
    entry["max_abs_probability_difference"] = check["max_abs_probability_difference"]
    entry["applied"] = check["max_abs_probability_difference"] <= FP32_TOLERANCE
    if entry["applied"]:
        fused_path.replace(fp32_path)
    else:
        fused_path.unlink()
        entry["reason"] = f"the fused graph differs from PyTorch by more than {FP32_TOLERANCE:g}"
    return entry


def quantize_int8(fp32_path: Path, int8_path: Path, choice: dict) -> None:
    """Dynamic int8 quantization with one of :data:`QUANTIZATION_CHOICES`: int8 weights (per output channel or per
    tensor), activations quantized per batch at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    large = fp32_path.stat().st_size > PROTOBUF_LIMIT_BYTES
    # onnxruntime logs a pre-processing hint on the root logger for every call (it targets static quantization of
    # image models); with several settings tried it would fill the export's output.
    hint = logging.Filter()
    hint.filter = lambda record: not record.getMessage().startswith("Please consider to run pre-processing")
    logging.getLogger().addFilter(hint)
    try:
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8, use_external_data_format=large, **choice)
    finally:
        logging.getLogger().removeFilter(hint)


def choose_quantization(fp32_path: Path, int8_path: Path, score) -> dict:
    """Quantize with every setting of :data:`QUANTIZATION_CHOICES`, keep the one whose label sets agree most with
    the fp32 model (then the smallest probability difference) at `int8_path`, and say how each did.

    Args:
        fp32_path: the fp32 graph.
        int8_path: where the chosen int8 graph goes.
        score: `score(path) -> compare(...)` dict for a candidate graph.
    """
    tried = []
    for index, choice in enumerate(QUANTIZATION_CHOICES):
        candidate = int8_path.with_name(f"candidate-{index}-{int8_path.name}")
        quantize_int8(fp32_path, candidate, choice)
        tried.append({**choice, **score(candidate), "file": candidate})
    best = max(tried, key=lambda t: (t["label_agreement"], -t["max_abs_probability_difference"]))
    for entry in tried:
        if entry is best:
            entry["file"].replace(int8_path)
        else:
            entry["file"].unlink()
        del entry["file"]
    chosen = {key: best[key] for key in QUANTIZATION_CHOICES[0]}
    return {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8", **chosen, "tried": tried}


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
    The fp32 graph is fused by onnxruntime's transformer optimizer where that keeps parity (`graph_optimization`);
    int8 tries :data:`QUANTIZATION_CHOICES` and keeps the one that best keeps fp32's label sets on `check_texts`
    (`quantization`, with every setting's figures). Everything is written to a folder beside `out_dir` first and
    swapped in only after the check passes, so a failed export leaves `out_dir` as it was.

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
        fp32_path = staging / FILES["fp32"]
        opset = export_graph(model, tokenizer, input_names, fp32_path)
        shutil.copy(model_dir / "config.json", staging / "config.json")
        tokenizer.save_pretrained(staging)

        def score(path: Path) -> dict:
            graph = OnnxEmotionClassifier(
                onnx_session(path),
                StoredConfig.from_folder(staging),
                TokenizerFile.from_folder(staging),
                batch_size=batch_size,
            )
            return compare(torch_probs, graph.predict_proba(texts), reference.thresholds)

        worst = score(fp32_path)["max_abs_probability_difference"]
        if not worst <= FP32_TOLERANCE:
            raise GoEmoXUsageError(
                f"the fp32 ONNX model differs from PyTorch by {worst:.2e} in probability (more than "
                f"{FP32_TOLERANCE:g}); nothing was written to {out_dir}"
            )
        fusion = apply_fusions(fp32_path, model, score)
        quantization = choose_quantization(fp32_path, staging / FILES["int8"], score) if quantize else None
        record = {
            "files": {precision: FILES[precision] for precision in precisions},
            "inputs": input_names,
            "output": "logits",
            "dynamic_axes": {"batch": 0, "sequence": 1},
            "opset": opset,
            "exporter": "torch.onnx.export(dynamo=True)",
            "graph_optimization": fusion,
            "quantization": quantization,
            "source_model": str(model_dir),  # as the user named it: no path of this machine in the record
            "versions": versions(),
        }
        write_json_atomically(staging / EXPORT_RECORD, record)
        # The check loads the staged folder as a user would, so it also proves the folder is self-contained.
        parity = {"texts": len(texts), "batch_size": batch_size, "reference": "PyTorch fp32 EmotionClassifier"}
        for precision in precisions:
            onnx_clf = OnnxEmotionClassifier.from_pretrained(staging, precision=precision, batch_size=batch_size)
            parity[precision] = compare(torch_probs, onnx_clf.predict_proba(texts), reference.thresholds)
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
