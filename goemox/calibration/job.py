"""The job behind `goemox calibrate`: fit a calibration on validation, fold it into the model, re-tune thresholds.

The calibrated model is an ordinary model folder: the calibration (temperature or Platt scaling, see
`goemox.calibration.logit_map`) lives in the output layer's weights, so every way of running the model
(`EmotionClassifier`, `pipeline()`, native and ONNX exports) gives calibrated scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from goemox.calibration.fitting import (
    CROSS_FIT_FOLDS,
    cross_fitted_probabilities,
    fit_on_validation,
    fit_thresholds,
    mean_nll,
)
from goemox.calibration.logit_map import CALIBRATION_METHODS, LogitMap, fold_logit_map
from goemox.calibration.report import plot_overall_reliability, write_report
from goemox.calibration.scaling import (
    DEFAULT_BINS,
    TEMPERATURE_KEY,
    at_bounds,
    expected_calibration_error,
    output_layer,
)
from goemox.data import label_matrix, load_emotion_dataset
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import THRESHOLD_STRATEGIES, multilabel_metrics
from goemox.file_io import check_output_folder, write_json_atomically
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.predictor import LongText
from goemox.run_folder import (
    CALIBRATION_FILE,
    METRICS_FILE,
    RELIABILITY_FILE,
    RUN_CONFIG_FILE,
    check_model_folder,
    check_no_leftovers,
    copy_model_files,
    library_versions,
    read_run_file,
    staged_folder,
)
from goemox.scores import sigmoid

REPORT_FOLDER = "calibration"
"""The report folder inside the calibrated model folder, unless `--report_dir` names another."""


@dataclass
class CalibrationRequest:
    """What `goemox calibrate` was asked to do.

    Attributes:
        model: the saved model folder to calibrate.
        output_dir: a new folder for the calibrated model (`None` with `in_place`).
        in_place: replace the model files in `model` instead.
        overwrite: allow `output_dir` / `report_dir` to hold files already.
        method: `temperature`, `per_label_temperature` or `platt` (see `goemox.calibration.logit_map`).
        split: the split the calibration and the thresholds are fitted on.
        test_split: a split scored once, after fitting, before and after calibration (`None`: none).
        report_dir: where `report.md` and the PNGs go (default: `calibration/` inside the calibrated model folder).
        threshold_strategy: `per_class`, `global` or `fixed`; default: the strategy of the model's training run.
        bins: equal-width probability bins of the calibration error.
        scheme: label scheme of the data (default: the one stored with the model).
        max_length: longest input in tokens.
        batch_size: texts per forward pass.
        long_text: how texts longer than `max_length` are read (see `LongText`); `None`: the model's setting.
        device: e.g. `"cpu"`; default CUDA when available.
        data: keyword arguments of `load_emotion_dataset` (`source`, files, columns, separator, seed...).
    """

    model: str
    output_dir: str | None = None
    in_place: bool = False
    overwrite: bool = False
    method: str = "platt"
    split: str = "validation"
    test_split: str | None = None
    report_dir: str | None = None
    threshold_strategy: str | None = None
    bins: int = DEFAULT_BINS
    scheme: str | None = None
    max_length: int = 128
    batch_size: int = 64
    long_text: LongText | None = None
    device: str | None = None
    data: dict = field(default_factory=dict)


def check_request(request: CalibrationRequest) -> tuple[Path, Path, Path]:
    """Check the folders before any work is done; return (model folder, destination, report folder).

    Raises:
        GoEmoXUsageError: a leftover of an interrupted run next to the model, a folder that is not a saved model,
            an output or report folder that is, lies inside or holds the model folder, or one already holding
            files without `overwrite`.
    """
    model_dir = Path(request.model)
    if request.in_place and model_dir.is_symlink():  # the link stays a link: the folder it points to is replaced
        model_dir = Path(os.path.realpath(model_dir))
    check_no_leftovers(model_dir)
    check_model_folder(model_dir)
    if request.in_place == (request.output_dir is not None):
        raise GoEmoXUsageError("give either --output_dir NEW_FOLDER or --in_place (to replace the model's files)")
    if request.threshold_strategy is not None and request.threshold_strategy not in THRESHOLD_STRATEGIES:
        raise GoEmoXUsageError(f"threshold strategy must be one of {THRESHOLD_STRATEGIES}")
    if request.method not in CALIBRATION_METHODS[1:]:
        raise GoEmoXUsageError(f"--method must be one of {', '.join(CALIBRATION_METHODS[1:])}, got {request.method!r}")
    if request.bins < 1:
        raise GoEmoXUsageError(f"--bins must be at least 1, got {request.bins}")
    destination = model_dir if request.in_place else Path(request.output_dir)
    if destination.is_symlink():  # written where the link points, as the model folder is in place
        destination = Path(os.path.realpath(destination))
    if not request.in_place:
        if destination.resolve() == model_dir.resolve():
            raise GoEmoXUsageError(f"--output_dir {destination} is the model folder itself; use --in_place for that")
        check_output_folder(destination, request.overwrite, inputs=[model_dir])
        check_no_leftovers(destination)
    if request.report_dir:
        report_dir = check_output_folder(request.report_dir, request.overwrite, [model_dir], "--report_dir")
    else:
        report_dir = destination / REPORT_FOLDER
    return model_dir, destination, report_dir


def training_threshold_strategy(model_dir: Path) -> str | None:
    """The threshold strategy recorded by `goemox train` in the model folder, if any."""
    metrics = read_run_file(model_dir, METRICS_FILE, required=False) or {}
    if metrics.get("threshold_strategy"):
        return metrics["threshold_strategy"]
    run_config = read_run_file(model_dir, RUN_CONFIG_FILE, required=False) or {}
    return (run_config.get("data") or {}).get("threshold_strategy")


def score_split(
    labels: np.ndarray,
    logits: np.ndarray,
    logit_map: LogitMap,
    thresholds: dict[str, list[float]],
    names: list[str],
    bins: int,
    cross_fitted: np.ndarray | None = None,
) -> dict:
    """Calibration and classification numbers of one split before and after mapping the logits with `logit_map`.

    Args:
        labels: `(n, L)` 0/1 labels.
        logits: `(n, L)` logits of the uncalibrated model.
        logit_map: the fitted calibration.
        thresholds: `{"before": [...], "after": [...]}` decision thresholds for each state.
        names: label names.
        bins: probability bins of the ECE.
        cross_fitted: for the split the map was fitted on, its cross-fitted probabilities
            (`goemox.calibration.fitting.cross_fitted_probabilities`): the calibration error after is measured on
            these, out of sample.
    """
    result = {"rows": len(labels)}
    for state, scaled in (("before", logits), ("after", logit_map.apply(logits))):
        probs = sigmoid(scaled)
        measured = cross_fitted if state == "after" and cross_fitted is not None else probs
        result[state] = {
            "ece": expected_calibration_error(measured, labels, bins),
            "nll": mean_nll(measured, labels),
            "brier": float(np.mean((measured - labels) ** 2)),
            "metrics": multilabel_metrics(labels, probs, names, thresholds[state]),
        }
    if cross_fitted is not None:
        result["after"]["calibration_measured"] = f"cross-fitted on {CROSS_FIT_FOLDS} folds of this split"
    return result


def calibrate(request: CalibrationRequest) -> dict:
    """Fit, fold and save: the whole `goemox calibrate` job.

    Writes the calibrated model (weights, tokenizer, `config.json` with `calibration` and re-tuned
    `thresholds`) to the destination, plus `calibration.json`; and `report.md` with reliability diagrams to the
    report folder. Other top-level files of the model folder (`metrics.json`, `run_config.json`, plots) are copied
    unchanged as the record of the training run; checkpoint folders and a checkpoint's optimiser state are not
    (with `in_place` every other file and folder of the model stays). See `save_calibrated_model` for how the new
    folder replaces the old one all at once.

    Args:
        request: what to do (see `CalibrationRequest`).

    Returns:
        The content of `calibration.json`.

    Example:
        >>> calibrate(CalibrationRequest("runs/demo", output_dir="runs/demo-calibrated",
        ...                              data={"source": "demo"}))  # doctest: +SKIP
    """
    model_dir, destination, report_dir = check_request(request)
    classifier = load_calibratable(model_dir, request)
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
    result, logit_map, crossed = fit_and_score(classifier, request, labels, logits, strategy)
    result.update({"model": str(model_dir), "output": str(destination)})
    reliability = {f"{request.split} (after: cross-fitted)": (labels, sigmoid(logits), crossed)}
    if request.test_split:
        test_data = splits[request.test_split]
        test_labels = label_matrix(test_data).astype(np.int64)
        test_logits = classifier.predict_logits(test_data["text"], show_progress=True)
        result["splits"][request.test_split] = score_split(
            test_labels, test_logits, logit_map, result["thresholds"], result["label_names"], request.bins
        )
        reliability[request.test_split] = (test_labels, sigmoid(test_logits), sigmoid(logit_map.apply(test_logits)))
    update_model(classifier, result, logit_map)
    result["report"] = str(report_dir / "report.md")
    save_calibrated_model(
        classifier,
        model_dir,
        destination,
        request.in_place,
        result,
        report_dir,
        lambda folder: write_report(result, reliability, logit_map, folder),
        lambda folder: plot_overall_reliability(reliability, folder / RELIABILITY_FILE, request.bins),
    )
    return result


def load_calibratable(model_dir: Path, request: CalibrationRequest) -> EmotionClassifier:
    """Load the model, refusing (before any data is read) one whose temperature cannot be folded in."""
    try:
        classifier = EmotionClassifier.from_pretrained(
            str(model_dir),
            device=request.device,
            max_length=request.max_length,
            batch_size=request.batch_size,
            long_text=request.long_text,
        )
    except OSError as err:
        raise GoEmoXUsageError(f"could not load the model {str(model_dir)!r}: {err}") from None
    output_layer(classifier.model)  # an unsupported architecture stops here
    problem_type = classifier.config.problem_type
    if problem_type != "multi_label_classification":
        raise GoEmoXUsageError(
            f"{model_dir}/config.json: problem_type is {problem_type!r}; calibration of "
            "sigmoid scores needs a multi_label_classification model"
        )
    return classifier


def fit_and_score(
    classifier: EmotionClassifier, request: CalibrationRequest, labels: np.ndarray, logits: np.ndarray, strategy: str
) -> tuple[dict, LogitMap, np.ndarray]:
    """Fit the calibration and the thresholds on the fit split (with the support rules of
    `goemox.calibration.fitting`) and score the split, its calibration error cross-fitted.

    Args:
        classifier: the uncalibrated model.
        request: the job's options.
        labels: `(n, L)` 0/1 labels of the fit split.
        logits: `(n, L)` logits of the fit split.
        strategy: the threshold strategy.

    Returns:
        Most of `calibration.json`, the fitted map and the split's cross-fitted probabilities.
    """
    names = classifier.label_names
    fitted = fit_on_validation(logits, labels, request.method, strategy)
    thresholds = {"before": fit_thresholds(labels, logits, None, strategy)[0], "after": fitted.thresholds}
    crossed = cross_fitted_probabilities(logits, labels, request.method, rules=fitted.rules)
    logit_map = fitted.logit_map
    result = {
        "model": request.model,
        "output": request.output_dir,
        "in_place": request.in_place,
        "label_names": names,
        "fit_split": request.split,
        "method": request.method,
        "calibration": logit_map.to_dict(),
        "temperature": logit_map.temperature,
        "at_search_bound": logit_map.temperature is not None and at_bounds(logit_map.temperature),
        "previous_calibration": getattr(LogitMap.stored(classifier.config), "method", None),
        "stored_calibration": None,
        TEMPERATURE_KEY: None,
        "threshold_strategy": strategy,
        "thresholds": thresholds,
        "stored_thresholds_before": classifier.thresholds,
        "fitted_per_label": [{**record, "label": names[record["label"]]} for record in fitted.labels],
        "support_rules": {**fitted.rules.to_dict(), "summary": fitted.summary()},
        "bins": request.bins,
        "splits": {request.split: score_split(labels, logits, logit_map, thresholds, names, request.bins, crossed)},
        "notes": [],
        "versions": library_versions(),
    }
    return result, logit_map, crossed


def update_model(classifier: EmotionClassifier, result: dict, logit_map: LogitMap) -> None:
    """Fold the map into the output layer and store the thresholds in the config.

    A stored `ood_cutoff` stays as it is: OOD scores are read from the logits before calibration
    (`goemox.scores.uncalibrated_logits`), so it flags the same texts.

    Args:
        classifier: the model to change.
        result: `calibration.json` so far (the stored totals and notes are added).
        logit_map: the fitted calibration.
    """
    config = classifier.config
    total = fold_logit_map(classifier.model, logit_map)
    result["stored_calibration"] = total.to_dict()
    result[TEMPERATURE_KEY] = total.temperature
    if result["previous_calibration"] is not None:
        result["notes"].append(
            f"the model was already calibrated ({result['previous_calibration']}); the stored calibration is the "
            f"composition {total.method}"
        )
    config.thresholds = result["thresholds"]["after"]


def save_calibrated_model(
    classifier: EmotionClassifier,
    model_dir: Path,
    destination: Path,
    in_place: bool,
    result: dict,
    report_dir: Path,
    write_report_to: Callable[[Path], object],
    write_plots_to: Callable[[Path], object],
) -> list[str]:
    """Write the calibrated model folder, `calibration.json` and the report; return the entries kept from `model_dir`.

    The complete new folder (weights, config, tokenizer, the other files of the model, and the report when it goes
    inside) is built beside the destination and put in place all at once (`goemox.run_folder.staged_folder`), so a
    failure leaves everything as it was: with `in_place` the model path holds a complete model at every instant. An
    existing destination that holds files (`--overwrite`) receives the new files instead. A report folder outside
    the destination is written last.

    Args:
        classifier: the calibrated model and its tokenizer.
        model_dir: the input model folder.
        destination: the folder to write (`model_dir` with `in_place`).
        in_place: replace `model_dir`.
        result: the content of `calibration.json` (`copied_files` is added).
        report_dir: the report folder.
        write_report_to: writes `report.md` and the plots into the folder it is given.
        write_plots_to: writes the model folder's own plots (the reliability diagram) into the folder it is given.
    """
    inside = _relative_inside(report_dir, destination)
    with staged_folder(destination, merge=not in_place) as staging:
        if inside != Path("."):  # a report in the folder itself draws the same plot there
            write_plots_to(staging)  # before the copy, so the model folder's earlier plot is not brought over
        classifier.model.save_pretrained(staging)
        classifier.tokenizer.save_pretrained(staging)
        skip = {CALIBRATION_FILE} | ({inside.parts[0]} if inside is not None and inside.parts else set())
        result["copied_files"] = copy_model_files(model_dir, staging, skip=skip, whole_folder=in_place)
        write_json_atomically(staging / CALIBRATION_FILE, result)
        if inside is not None:
            write_report_folder(staging / inside, result, write_report_to)
    if inside is None:
        write_report_folder(report_dir, result, write_report_to)
    return result["copied_files"]


def write_report_folder(folder: Path, result: dict, write_report_to: Callable[[Path], object]) -> None:
    """Write the report (`write_report_to`) and `calibration.json` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_report_to(folder)
    write_json_atomically(folder / CALIBRATION_FILE, result)


def _relative_inside(path: Path, folder: Path) -> Path | None:
    """`path` relative to `folder` when it is or lies inside it (`Path(".")` for the folder itself), else `None`."""
    path, folder = path.resolve(), folder.resolve()
    return path.relative_to(folder) if path == folder or folder in path.parents else None
