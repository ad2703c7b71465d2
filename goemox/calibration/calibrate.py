"""The job behind `goemox calibrate`: fit a temperature on validation, fold it into the model, re-tune thresholds.

The calibrated model is an ordinary model folder: the temperature lives in the output layer's weights, so every way
of running the model (`EmotionClassifier`, `pipeline()`, native and ONNX exports) gives calibrated scores.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

from goemox.calibration.report import write_report
from goemox.calibration.scaling import (
    DEFAULT_BINS,
    TEMPERATURE_KEY,
    Temperature,
    at_bounds,
    binary_nll,
    expected_calibration_error,
    fit_temperature,
    fold_temperature,
    output_layer,
    scale_logits,
    threshold_grid_after_scaling,
)
from goemox.data import label_matrix, load_emotion_dataset
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import DEFAULT_GRID, THRESHOLD_STRATEGIES, multilabel_metrics, tune_thresholds
from goemox.inference.classifier import EmotionClassifier
from goemox.scores import sigmoid
from goemox.training.run_folder import METRICS_FILE, RUN_CONFIG_FILE, library_versions

CALIBRATION_FILE = "calibration.json"
REPORT_FOLDER = "calibration"
WEIGHT_FILE_PATTERNS = ("model*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin*")
TRAINER_STATE_PATTERNS = (
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "trainer_state.json",
    "training_args.bin",
)
"""Files of a Trainer checkpoint that describe the optimisation of the uncalibrated model; never copied."""


@dataclass
class CalibrationRequest:
    """What `goemox calibrate` was asked to do.

    Attributes:
        model: the saved model folder to calibrate.
        output_dir: a new folder for the calibrated model (`None` with `in_place`).
        in_place: replace the model files in `model` instead.
        overwrite: allow `output_dir` / `report_dir` to hold files already.
        per_class: fit one temperature per label instead of one for all.
        split: the split the temperature and the thresholds are fitted on.
        test_split: a split scored once, after fitting, before and after calibration (`None`: none).
        report_dir: where `report.md` and the PNGs go (default: `calibration/` inside the calibrated model folder).
        threshold_strategy: `per_class`, `global` or `fixed`; default: the strategy of the model's training run.
        bins: equal-width probability bins of the calibration error.
        scheme: label scheme of the data (default: the one stored with the model).
        max_length: longest input in tokens.
        batch_size: texts per forward pass.
        device: e.g. `"cpu"`; default CUDA when available.
        data: keyword arguments of `load_emotion_dataset` (`source`, files, columns, separator, seed...).
    """

    model: str
    output_dir: str | None = None
    in_place: bool = False
    overwrite: bool = False
    per_class: bool = False
    split: str = "validation"
    test_split: str | None = None
    report_dir: str | None = None
    threshold_strategy: str | None = None
    bins: int = DEFAULT_BINS
    scheme: str | None = None
    max_length: int = 128
    batch_size: int = 64
    device: str | None = None
    data: dict = field(default_factory=dict)


def _holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def check_request(request: CalibrationRequest) -> tuple[Path, Path, Path]:
    """Check the folders before any work is done; return (model folder, destination, report folder)."""
    model_dir = Path(request.model)
    if not (model_dir / "config.json").is_file():
        raise GoEmoXUsageError(f"{model_dir}: not a saved model folder (no config.json)")
    if request.in_place == (request.output_dir is not None):
        raise GoEmoXUsageError("give either --output_dir NEW_FOLDER or --in_place (to replace the model's files)")
    if request.threshold_strategy is not None and request.threshold_strategy not in THRESHOLD_STRATEGIES:
        raise GoEmoXUsageError(f"threshold strategy must be one of {THRESHOLD_STRATEGIES}")
    if request.bins < 1:
        raise GoEmoXUsageError(f"--bins must be at least 1, got {request.bins}")
    destination = model_dir if request.in_place else Path(request.output_dir)
    if not request.in_place:
        if destination.resolve() == model_dir.resolve():
            raise GoEmoXUsageError(f"--output_dir {destination} is the model folder itself; use --in_place for that")
        if destination.exists() and not destination.is_dir():
            raise GoEmoXUsageError(f"--output_dir {destination} is a file, not a folder")
        if _holds_files(destination) and not request.overwrite:
            raise GoEmoXUsageError(
                f"--output_dir {destination} already holds files; pass --overwrite or choose another folder"
            )
    report_dir = Path(request.report_dir) if request.report_dir else destination / REPORT_FOLDER
    if request.report_dir and _holds_files(report_dir) and not request.overwrite:
        raise GoEmoXUsageError(f"--report_dir {report_dir} already holds files; pass --overwrite or choose another")
    return model_dir, destination, report_dir


def training_threshold_strategy(model_dir: Path) -> str | None:
    """The threshold strategy recorded by `goemox train` in the model folder, if any."""
    metrics_file = model_dir / METRICS_FILE
    if metrics_file.is_file():
        strategy = json.loads(metrics_file.read_text(encoding="utf-8")).get("threshold_strategy")
        if strategy:
            return strategy
    run_config = model_dir / RUN_CONFIG_FILE
    if run_config.is_file():
        return json.loads(run_config.read_text(encoding="utf-8")).get("data", {}).get("threshold_strategy")
    return None


def tuned_thresholds(
    labels: np.ndarray, probs: np.ndarray, strategy: str, temperature: Temperature | None = None
) -> list[float]:
    """Thresholds chosen with a `goemox train` strategy, from the training grid carried through `temperature`.

    Args:
        labels: `(n, L)` 0/1 labels.
        probs: `(n, L)` probabilities (calibrated with `temperature`, if given).
        strategy: `per_class`, `global` or `fixed`.
        temperature: the scaling the probabilities went through; `None` tunes on the training grid itself.
            Each label is tuned on its own carried grid, so the choice is the one tuning made before scaling.
    """
    count = labels.shape[1]
    if temperature is None:
        return tune_thresholds(labels, probs, strategy)
    per_label = np.broadcast_to(np.asarray(temperature, dtype=np.float64), (count,))
    return tune_thresholds(
        labels, probs, strategy, [threshold_grid_after_scaling(DEFAULT_GRID, float(t)) for t in per_label]
    )


def score_split(
    labels: np.ndarray,
    logits: np.ndarray,
    temperature: Temperature,
    thresholds: dict[str, list[float]],
    names: list[str],
    bins: int,
) -> dict:
    """Calibration and classification numbers of one split before and after dividing the logits by `temperature`.

    Args:
        labels: `(n, L)` 0/1 labels.
        logits: `(n, L)` logits of the uncalibrated model.
        temperature: the fitted temperature(s).
        thresholds: `{"before": [...], "after": [...]}` decision thresholds for each state.
        names: label names.
        bins: probability bins of the ECE.
    """
    result = {"rows": len(labels)}
    for state, scaled in (("before", logits), ("after", scale_logits(logits, temperature))):
        probs = sigmoid(scaled)
        metrics = multilabel_metrics(labels, probs, names, thresholds[state])
        result[state] = {
            "ece": expected_calibration_error(probs, labels, bins),
            "nll": float(binary_nll(scaled, labels).mean()),
            "brier": float(np.mean((probs - labels) ** 2)),
            "metrics": metrics,
        }
    return result


def rescaled_ood_cutoff(stored: dict | None, temperature: Temperature) -> tuple[dict | None, str | None]:
    """The `ood_cutoff` that flags the same texts after calibration, and a note for the user.

    With one temperature the highest probability of a text maps through the same monotone function, so the cutoff
    is moved with it (`sigmoid(logit(cutoff) / T)`) and flags the same texts. With per-label temperatures the
    highest probability can come from another label, so no cutoff reproduces the old flags: it is removed.
    """
    if not stored:
        return stored, None
    if isinstance(temperature, list):
        return None, (
            "the stored ood_cutoff was removed: with per-label temperatures no cutoff on the highest probability "
            "flags the same texts; fit a new one on the calibrated model"
        )
    cutoff = float(stored["cutoff"])
    if not 0.0 < cutoff < 1.0:
        return stored, None  # 0 and 1 stay where they are under any temperature
    moved = float(sigmoid(np.log(cutoff / (1.0 - cutoff)) / temperature))
    updated = {
        **stored,
        "cutoff": moved,
        "source": f"{stored.get('source', '')} (moved by calibration T={temperature:.4g})",
    }
    return updated, f"the stored ood_cutoff {cutoff:.4g} became {moved:.4g} so the same texts are flagged"


def calibrate(request: CalibrationRequest) -> dict:
    """Fit, fold and save: the whole `goemox calibrate` job.

    Writes the calibrated model (weights, tokenizer, `config.json` with `calibration_temperature` and re-tuned
    `thresholds`) to the destination, plus `calibration.json`; and `report.md` with reliability diagrams to the
    report folder. Other top-level files of the model folder (`metrics.json`, `run_config.json`, plots) are copied
    unchanged as the record of the training run; checkpoint folders and a checkpoint's optimiser state are not.

    Args:
        request: what to do (see `CalibrationRequest`).

    Returns:
        The content of `calibration.json`.

    Example:
        >>> calibrate(CalibrationRequest("runs/demo", output_dir="runs/demo-calibrated",
        ...                              data={"source": "demo"}))  # doctest: +SKIP
    """
    model_dir, destination, report_dir = check_request(request)
    try:
        classifier = EmotionClassifier.from_pretrained(
            str(model_dir), device=request.device, max_length=request.max_length, batch_size=request.batch_size
        )
    except OSError as err:
        raise GoEmoXUsageError(f"could not load the model {str(model_dir)!r}: {err}") from None
    model = classifier.model
    output_layer(model)  # an unsupported architecture stops here, before any data is read
    if model.config.problem_type != "multi_label_classification":
        raise GoEmoXUsageError(
            f"{model_dir}/config.json: problem_type is {model.config.problem_type!r}; temperature scaling of "
            "sigmoid scores needs a multi_label_classification model"
        )
    names = classifier.label_names
    strategy = request.threshold_strategy or training_threshold_strategy(model_dir) or "per_class"

    splits = load_emotion_dataset(scheme=classifier.label_scheme(request.scheme), **request.data)
    for name in filter(None, (request.split, request.test_split)):
        if name not in splits:
            raise GoEmoXUsageError(f"the data has no {name!r} split; it has {sorted(splits)}")
        if len(splits[name]) == 0:
            raise GoEmoXUsageError(f"the {name!r} split is empty")
    fit_data = splits[request.split]
    labels = label_matrix(fit_data).astype(np.int64)
    logits = classifier.predict_logits(fit_data["text"], show_progress=True)

    temperature = fit_temperature(logits, labels, per_class=request.per_class)
    thresholds = {
        "before": tuned_thresholds(labels, sigmoid(logits), strategy),
        "after": tuned_thresholds(labels, sigmoid(scale_logits(logits, temperature)), strategy, temperature),
    }
    previous = getattr(model.config, TEMPERATURE_KEY, None)
    result = {
        "model": str(model_dir),
        "output": str(destination),
        "in_place": request.in_place,
        "label_names": names,
        "fit_split": request.split,
        "per_class": request.per_class,
        "temperature": temperature,
        "temperature_at_search_bound": at_bounds(temperature),
        "previous_temperature": previous,
        TEMPERATURE_KEY: None,
        "threshold_strategy": strategy,
        "thresholds": thresholds,
        "stored_thresholds_before": classifier.thresholds,
        "bins": request.bins,
        "splits": {request.split: score_split(labels, logits, temperature, thresholds, names, request.bins)},
        "notes": [],
        "versions": library_versions(),
    }
    if request.test_split:
        test_data = splits[request.test_split]
        test_labels = label_matrix(test_data).astype(np.int64)
        test_logits = classifier.predict_logits(test_data["text"], show_progress=True)
        result["splits"][request.test_split] = score_split(
            test_labels, test_logits, temperature, thresholds, names, request.bins
        )

    result[TEMPERATURE_KEY] = fold_temperature(model, temperature)
    if previous is not None:
        result["notes"].append(
            f"the model was already calibrated (T={previous}); the stored temperature is the product "
            f"{result[TEMPERATURE_KEY]}"
        )
    model.config.thresholds = thresholds["after"]
    cutoff, note = rescaled_ood_cutoff(getattr(model.config, "ood_cutoff", None), temperature)
    if note:
        if cutoff is None:
            delattr(model.config, "ood_cutoff")
        else:
            model.config.ood_cutoff = cutoff
        result["notes"].append(note)
    result["report"] = str(report_dir / "report.md")
    result["copied_files"] = save_calibrated_model(classifier, model_dir, destination, request.in_place, result)
    write_report(result, labels, logits, temperature, report_dir)
    (report_dir / CALIBRATION_FILE).write_text(json.dumps(result, indent=2))
    return result


def save_calibrated_model(
    classifier: EmotionClassifier, model_dir: Path, destination: Path, in_place: bool, result: dict
) -> list[str]:
    """Write the model, tokenizer and `calibration.json`; return the names of files copied over from `model_dir`.

    Everything is first written to a temporary folder beside the destination, so a failure leaves the input (and
    the destination) as it was; the files are then moved into place. With `in_place`, weight files of the old model
    that the new save did not rewrite (e.g. a sharded checkpoint) are removed so they cannot be loaded instead.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.calibrating-"))
    try:
        classifier.model.save_pretrained(staging)
        classifier.tokenizer.save_pretrained(staging)
        written = {path.name for path in staging.iterdir()}
        copied = []
        if not in_place:
            for path in sorted(model_dir.iterdir()):
                skip = (
                    path.name in written
                    or path.name == CALIBRATION_FILE
                    or path.name.startswith(".")
                    or any(fnmatch(path.name, pattern) for pattern in TRAINER_STATE_PATTERNS)
                )
                if path.is_file() and not skip:
                    shutil.copy2(path, staging / path.name)
                    copied.append(path.name)
        (staging / CALIBRATION_FILE).write_text(json.dumps({**result, "copied_files": copied}, indent=2))
        destination.mkdir(parents=True, exist_ok=True)
        if in_place:
            stale = {p for pattern in WEIGHT_FILE_PATTERNS for p in destination.glob(pattern) if p.name not in written}
            for path in stale:
                path.unlink()
        for path in staging.iterdir():
            os.replace(path, destination / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return copied
