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
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

from goemox.errors import GoEmoXUsageError, first_line
from goemox.exporters.native import BOOKKEEPING_KEYS, is_native_multilabel_classifier, native_config
from goemox.exporters.portable import export_tokenizer, scrub_local_paths
from goemox.exporters.quantization import quantize_int8
from goemox.file_io import check_output_folder, write_json_atomically
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
from goemox.resources import demo_texts
from goemox.run_folder import CONFIG_FILE, check_model_folder, staged_folder
from goemox.scores import apply_thresholds

FILES = {"fp32": "onnx/model.onnx", "int8": "onnx/model_quantized.onnx"}
"""Where each precision's graph goes: the Hub layout that transformers.js and optimum look for."""
EARLIER_LAYOUT_FILES = ("model.onnx", "model_int8.onnx")
"""Graphs that exports before the Hub layout wrote at the top of the folder."""
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FP32_TOLERANCE = 1e-4
PROTOBUF_LIMIT_BYTES = 2**31 - 1

logger = logging.getLogger(__name__)


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
    """The fp32 model and tokenizer of a saved folder (its `model_max_length` the training length, see
    `export_tokenizer`), refusing models that are not multi-label classifiers."""
    check_model_folder(model_dir)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
        tokenizer = export_tokenizer(model_dir)
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(f"could not load {model_dir} as a sequence classifier: {err}") from None
    problem = model.config.problem_type
    if problem not in (None, "multi_label_classification"):
        raise GoEmoXUsageError(
            f"{model_dir / CONFIG_FILE}: problem_type is {problem!r}; goemox exports multi-label classifiers "
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
    # The exporter records, on every node, the Python stack that made it (file paths of this machine's site-packages
    # and checkout) and the FX node it came from: debugging notes that a published graph must not carry.
    for node in program.model.graph.all_nodes():
        node.metadata_props.clear()
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


def compare(reference: np.ndarray, probs: np.ndarray, thresholds: list[float]) -> dict:
    """Largest probability difference and share of texts with the same label set at the given thresholds."""
    same = (apply_thresholds(reference, thresholds) == apply_thresholds(probs, thresholds)).all(axis=1)
    worst = float(np.abs(reference - probs).max())
    return {"max_abs_probability_difference": worst, "label_agreement": float(same.mean())}


def versions() -> dict[str, str]:
    """Versions of the libraries that wrote and checked the export."""
    names = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime")
    return {name: importlib.metadata.version(name) for name in names}


def folder_config(model: PreTrainedModel):
    """The `config.json` of an ONNX folder: a config whose `model_type` and `architectures` optimum and
    transformers.js know (the encoder family's sequence classifier; a DistilBERT encoder as BERT, as in a native
    export), the labels and problem type, and goemox's keys (thresholds, calibration, OOD cutoff, long-text
    settings, `pooling`). Which pooling the network uses lives inside the graph; the clients only read labels and
    the problem type from the config.

    Args:
        model: the classifier being exported (a goemox model or a native multi-label classifier).

    Example:

    ```python
    >>> folder_config(GoEmoXForSequenceClassification(GoEmoXConfig(pooling="mean"))).model_type  # doctest: +SKIP
    'bert'
    ```"""
    if isinstance(model, GoEmoXForSequenceClassification):
        config = native_config(model.config)
        config.pooling = model.config.pooling
    else:
        values = {k: v for k, v in model.config.to_dict().items() if k not in BOOKKEEPING_KEYS}
        config = AutoConfig.for_model(values.pop("model_type"), **values)
        if is_native_multilabel_classifier(model.config):
            config.pooling = "cls"
    classifier = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.get(config.model_type)
    config.architectures = [classifier] if classifier else list(model.config.architectures or [])
    return config


def text_record(texts: list[str] | None, name: str | None) -> tuple[list[str], dict]:
    """The texts of a check (goemox's demo sentences when none are given) and how the record names them."""
    source = name or "texts given to export_onnx"
    if not texts:
        texts, source = parity_texts(), "goemox demo sentences"
    return list(texts), {"source": source, "texts": len(texts)}


def export_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    quantize: str | None = None,
    overwrite: bool = False,
    check_texts: list[str] | None = None,
    check_name: str | None = None,
    batch_size: int = 16,
) -> dict:
    """Export a saved classifier to an ONNX folder that goemox, optimum and transformers.js load as written, and
    check it against the PyTorch model.

    The folder has the Hub layout: `onnx/model.onnx` (fp32), `onnx/model_quantized.onnx` with `quantize="int8"`,
    a `config.json` naming the encoder family's classifier (:func:`folder_config`) with goemox's keys beside it,
    the tokenizer files, and `onnx_export.json`, which records which file is which, the graph's inputs and the
    checks: the largest probability difference from PyTorch and the label agreement at the stored thresholds on
    `check_texts` (default: goemox's 403 demo sentences), run through `EmotionClassifier`'s padded batches.
    The fp32 graph is fused by onnxruntime's transformer optimizer where that keeps parity (`graph_optimization`).
    int8 (:mod:`goemox.exporters.quantization`) quantizes weights and activations in small blocks, activations per
    row, so a text's scores do not depend on the rest of its batch. Everything is written to a folder beside
    `out_dir` first and swapped in only after the checks pass, so a failed export leaves `out_dir` as it was.

    Args:
        model_dir: a folder `AutoModelForSequenceClassification` loads (goemox, BERT, RoBERTa, ...).
        out_dir: the export folder; it must not be, lie inside or hold the model folder.
        quantize: `"int8"` to add an int8 copy.
        overwrite: replace the export files of a non-empty `out_dir` (other files are kept).
        check_texts: texts for the parity check.
        check_name: what `check_texts` are, for the record (e.g. the file they came from).
        batch_size: texts per padded batch in the checks.

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
    texts, check_source = text_record(check_texts, check_name)
    reference = EmotionClassifier(model, tokenizer, batch_size=batch_size)
    torch_probs = reference.predict_proba(texts)
    precisions = ["fp32"] + (["int8"] if quantize else [])

    with staged_folder(out_dir) as staging:
        fp32_path = staging / FILES["fp32"]
        fp32_path.parent.mkdir()
        opset = export_graph(model, tokenizer, input_names, fp32_path)
        folder_config(model).save_pretrained(staging)
        tokenizer.save_pretrained(staging)

        def score(path: Path) -> dict:
            config, tokens = StoredConfig.from_folder(staging), TokenizerFile.from_folder(staging)
            graph = OnnxEmotionClassifier(onnx_session(path), config, tokens, batch_size=batch_size)
            return compare(torch_probs, graph.predict_proba(texts), reference.thresholds)

        worst = score(fp32_path)["max_abs_probability_difference"]
        if not worst <= FP32_TOLERANCE:
            raise GoEmoXUsageError(
                f"the fp32 ONNX model differs from PyTorch by {worst:.2e} in probability (more than "
                f"{FP32_TOLERANCE:g}); nothing was written to {out_dir}"
            )
        fusion = apply_fusions(fp32_path, model, score)
        quantization = quantize_int8(fp32_path, staging / FILES["int8"]) if quantize else None
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
        parity = {**check_source, "batch_size": batch_size, "reference": "PyTorch fp32 EmotionClassifier"}
        for precision in precisions:
            onnx_clf = OnnxEmotionClassifier.from_pretrained(staging, precision=precision, batch_size=batch_size)
            parity[precision] = compare(torch_probs, onnx_clf.predict_proba(texts), reference.thresholds)
        record["parity"] = parity
        write_json_atomically(staging / EXPORT_RECORD, record)
        scrub_local_paths(staging)
        keep_other_files(out_dir, staging)
    return record


def keep_other_files(out_dir: Path, staging: Path) -> None:
    """Copy into `staging` the files of an existing `out_dir` that are not export files, so that swapping the new
    export in leaves them; an earlier export's ONNX models are not kept (they would not match the new one)."""
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        if entry.name in EARLIER_LAYOUT_FILES or (staging / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, staging / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
