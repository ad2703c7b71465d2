"""The exact folder `goemox push` uploads: weights (native class or goemox remote code), tokenizer, config, model
card and run files, loaded back and checked against the original model before anything is published."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.exporters.native import published_architecture, to_native_model
from goemox.hub.model_card import ModelCardOptions, render_model_card
from goemox.modeling_goemox import GoEmoXForSequenceClassification

RUN_FILES = ("metrics.json", "run_config.json", "training_curve.png")


REMOTE_CODE_FILES = ("configuration_goemox.py", "modeling_goemox.py")


REMOTE_CODE_AUTO_MAP = {
    "AutoConfig": "configuration_goemox.GoEmoXConfig",
    "AutoModelForSequenceClassification": "modeling_goemox.GoEmoXForSequenceClassification",
}


PROBE_TEXTS = (
    "Thank you so much, this made my day!",
    "I can't believe they did that again, it's infuriating.",
    "ok",
    "What do you mean? I'm not sure I follow [NAME]'s point about the new rules at all.",
)


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
    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise GoEmoXUsageError(f"{folder}: not a saved model folder (no config.json)")
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
    if not isinstance(model, GoEmoXForSequenceClassification):
        raise GoEmoXUsageError(
            f"{folder}: holds a {type(model).__name__}, not a goemox model; publish it with huggingface_hub directly"
        )
    return model.eval()


def _probabilities(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(list(PROBE_TEXTS), padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        return torch.sigmoid(model(**batch).logits.float())


def build_hub_folder(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    native: bool = True,
    card_options: ModelCardOptions | None = None,
    overwrite: bool = False,
) -> HubFolder:
    """Write the folder that `push_to_hub` uploads: weights, tokenizer, config, model card and run files.

    The folder is loaded back with `AutoModelForSequenceClassification` and must reproduce the original model's
    probabilities on probe texts (max abs difference <= 1e-5), or nothing is returned.

    Args:
        model_dir: a trained goemox model folder (`goemox train --output_dir`).
        out_dir: where to write; must not exist or be empty unless `overwrite`.
        native: publish as the encoder family's native classifier when one computes the same function.
        card_options: metadata for the model card (license, base model, dataset id, analysis folder).
        overwrite: replace the contents of a non-empty `out_dir`.

    Example:

    ```python
    >>> folder = build_hub_folder("runs/bert", "runs/bert-hub")  # doctest: +SKIP
    >>> folder.architecture, folder.native  # doctest: +SKIP
    ('BertForSequenceClassification', True)
    ```"""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise GoEmoXUsageError(f"{out} already holds files; choose another folder or pass --overwrite")
        shutil.rmtree(out)
    model = _load_goemox_model(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    architecture, blocker = published_architecture(model.config, native)
    if blocker is None:
        export = to_native_model(model)
    else:
        export = model
        export.config.auto_map = REMOTE_CODE_AUTO_MAP
    out.mkdir(parents=True, exist_ok=True)
    if blocker is not None:
        for name in REMOTE_CODE_FILES:
            shutil.copy2(Path(__file__).parents[1] / name, out / name)
    export.save_pretrained(out)
    tokenizer.save_pretrained(out)
    for name in RUN_FILES:
        if (Path(model_dir) / name).is_file():
            shutil.copy2(Path(model_dir) / name, out / name)
    card = render_model_card(model_dir, options=card_options, native=native)
    card.save(out / "README.md")

    reloaded = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32).eval()
    difference = float((_probabilities(reloaded, tokenizer) - _probabilities(model, tokenizer)).abs().max())
    if difference > PARITY_TOLERANCE:
        raise GoEmoXError(
            f"{out}: the exported {architecture} differs from the goemox model by {difference:.2e} in probability "
            f"(tolerance {PARITY_TOLERANCE:.0e}); not publishing it"
        )
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return HubFolder(out, architecture, blocker is None, blocker, files, difference)
