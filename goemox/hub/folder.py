"""The exact folder `goemox push` uploads: weights (native class or goemox remote code), tokenizer, config, model
card and run files, loaded back and checked against the original model before anything is published."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.exporters.native import published_architecture, to_native_model
from goemox.exporters.onnx import FILES as ONNX_GRAPHS
from goemox.exporters.onnx import export_onnx
from goemox.exporters.portable import export_tokenizer, scrub_local_paths
from goemox.file_io import check_output_folder
from goemox.hub.model_card import ModelCardOptions, render_model_card
from goemox.inference.onnx import EXPORT_RECORD
from goemox.modeling_goemox import GoEmoXForSequenceClassification
from goemox.run_folder import CARD_FILE, RUN_FILES, check_model_folder, copy_model_files, staged_folder
from goemox.scores import sigmoid

REMOTE_CODE_FILES = ("configuration_goemox.py", "modeling_goemox.py")
"""goemox's files a remote-code repository holds (modeling_goemox.py imports nothing from goemox except its
configuration, so the two files are enough)."""

ONNX_FILES = (*ONNX_GRAPHS.values(), EXPORT_RECORD)
"""The ONNX export a folder built with `onnx=True` holds."""

GOEMOX_WRITTEN_FILES = (*REMOTE_CODE_FILES, *ONNX_FILES)
"""Files that only some of goemox's folders hold: a push without them deletes those of an earlier push."""

REMOTE_CODE_AUTO_MAP = {
    "AutoConfig": "configuration_goemox.GoEmoXConfig",
    "AutoModelForSequenceClassification": "modeling_goemox.GoEmoXForSequenceClassification",
}
"""Where `trust_remote_code=True` finds goemox's classes in a published repository."""

PROBE_TEXTS = (
    "Thank you so much, this made my day!",
    "I can't believe they did that again, it's infuriating.",
    "ok",
    "What do you mean? I'm not sure I follow [NAME]'s point about the new rules at all.",
)
"""Texts of varied length on which the built folder must reproduce the original model's probabilities."""

PARITY_TOLERANCE = 1e-5


@dataclass
class HubFolder:
    """A folder ready to upload.

    Attributes:
        path: the folder.
        architecture: the class `config.json` names (e.g. `BertForSequenceClassification`).
        native: whether that class ships with transformers (no custom code needed).
        native_blocker: why a native class was not used, if it was not.
        files: every file in the folder, relative paths.
        max_abs_difference: largest probability difference between the folder, loaded back, and the original model.
    """

    path: Path
    architecture: str
    native: bool
    native_blocker: str | None
    files: list[str]
    max_abs_difference: float


def _load_goemox_model(model_dir: str | Path) -> GoEmoXForSequenceClassification:
    folder = check_model_folder(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
    if not isinstance(model, GoEmoXForSequenceClassification):
        raise GoEmoXUsageError(
            f"{folder}: holds a {type(model).__name__}, not a goemox model; publish it with huggingface_hub directly"
        )
    return model.eval()


def _probabilities(model, tokenizer) -> np.ndarray:
    batch = tokenizer(list(PROBE_TEXTS), padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        return sigmoid(model(**batch).logits.float().numpy())


def _write_folder(out: Path, model_dir: Path, model, tokenizer, native: bool, card_options, onnx: bool) -> str:
    """Write weights, tokenizer, run files and card into the empty folder `out`, with no local path of this machine
    in them; returns the published class."""
    architecture, blocker = published_architecture(model.config, native)
    if blocker is None:
        export = to_native_model(model)
    else:
        export = model
        export.config.auto_map = REMOTE_CODE_AUTO_MAP
        for name in REMOTE_CODE_FILES:
            shutil.copy2(Path(__file__).parents[1] / name, out / name)
    export.save_pretrained(out)
    # The training tokenizer, class included: a DistilBERT model exported as BERT keeps `DistilBertTokenizer` (in
    # transformers a BertTokenizer subclass, and a class transformers.js has too) over the same tokenizer.json, so
    # AutoTokenizer and pipeline() give the same input_ids, and no token_type_ids: BertModel then reads its
    # all-zero buffer (segment embeddings are zero anyway), and `goemox export onnx` leaves that input out.
    tokenizer.save_pretrained(out)
    copy_model_files(model_dir, out, only=RUN_FILES)
    render_model_card(model_dir, options=card_options, native=native, onnx=onnx).save(out / CARD_FILE)
    scrub_local_paths(out)
    return architecture


def add_onnx_export(folder: Path) -> None:
    """Put the ONNX export of a native hub folder (fp32 and int8, see `export_onnx`) into it: the `onnx/` graphs and
    `onnx_export.json`. The folder's own config and tokenizer are the ones the export writes, so they stay."""
    with tempfile.TemporaryDirectory(prefix="goemox-onnx-") as work:
        exported = Path(work) / "export"
        export_onnx(folder, exported, quantize="int8")
        shutil.move(exported / "onnx", folder / "onnx")
        shutil.copy2(exported / EXPORT_RECORD, folder / EXPORT_RECORD)


def build_hub_folder(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    native: bool = True,
    card_options: ModelCardOptions | None = None,
    overwrite: bool = False,
    onnx: bool = False,
) -> HubFolder:
    """Write the folder that `push_to_hub` uploads: weights, tokenizer, config, model card and run files.

    The folder is built beside `out_dir` and loaded back with `AutoModelForSequenceClassification`; it must
    reproduce the original model's probabilities on probe texts (max abs difference <= 1e-5) before it replaces
    `out_dir`, so a failure leaves `out_dir` as it was. No file names a path of this machine (`scrub_local_paths`),
    and the tokenizer's `model_max_length` is the training `--max_length` (`export_tokenizer`).

    Args:
        model_dir: a trained goemox model folder (`goemox train --output_dir`).
        out_dir: where to write; must not exist or be empty unless `overwrite`, and must not be, lie inside or
            hold the model folder or the analysis folder.
        native: publish as the encoder family's native classifier when one computes the same function.
        card_options: metadata for the model card (license, base model, dataset id, analysis folder).
        overwrite: replace a non-empty `out_dir` (all of it, once the new folder is complete and checked).
        onnx: also hold the ONNX export of the published folder (`onnx/model.onnx`, the int8
            `onnx/model_quantized.onnx` and `onnx_export.json`, see `export_onnx`), so that optimum and transformers.js
            load the repository too; only for a model published as a native class.

    Example:

    ```python
    >>> folder = build_hub_folder("runs/bert", "runs/bert-hub")  # doctest: +SKIP
    >>> folder.architecture, folder.native  # doctest: +SKIP
    ('BertForSequenceClassification', True)
    ```"""
    model_dir, out = Path(model_dir), Path(out_dir)
    card_inputs = [card_options.analysis_dir, card_options.comparison_file] if card_options else []
    check_output_folder(out, overwrite, inputs=[model_dir, *card_inputs], option="--output_dir")
    model = _load_goemox_model(model_dir)
    _, blocker = published_architecture(model.config, native)
    if onnx and blocker is not None:
        raise GoEmoXUsageError(
            f"--onnx needs a model published as a native class, and this one is not ({blocker}): optimum and "
            "transformers.js cannot read goemox's remote-code config; export its ONNX folder on its own with "
            "`goemox export onnx`"
        )
    tokenizer = export_tokenizer(model_dir)
    with staged_folder(out) as staging:
        architecture = _write_folder(staging, model_dir, model, tokenizer, native, card_options, onnx)
        reloaded = AutoModelForSequenceClassification.from_pretrained(staging, dtype=torch.float32).eval()
        difference = float(np.abs(_probabilities(reloaded, tokenizer) - _probabilities(model, tokenizer)).max())
        if difference > PARITY_TOLERANCE:
            raise GoEmoXError(
                f"{out}: the exported {architecture} differs from the goemox model by {difference:.2e} in "
                f"probability (tolerance {PARITY_TOLERANCE:.0e}); not publishing it"
            )
        if onnx:
            add_onnx_export(staging)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return HubFolder(out, architecture, blocker is None, blocker, files, difference)
