"""The training job behind `goemox train`: data -> fine-tuning -> thresholds -> metrics -> saved model."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from datasets import DatasetDict
from transformers import AutoTokenizer, TrainerCallback, set_seed

from goemox.analysis.ood import validation_ood_cutoff
from goemox.calibration.fitting import (
    FittedOnValidation,
    calibration_error,
    cross_fitted_probabilities,
    fit_on_validation,
)
from goemox.calibration.logit_map import fold_logit_map
from goemox.calibration.report import plot_overall_reliability
from goemox.data import tokenize_dataset
from goemox.data.corpora import MASK_COLUMN, SOURCE_COLUMN
from goemox.data.tokenize import count_truncated
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import annotated_metrics, check_finite_logits, multilabel_metrics, threshold_report
from goemox.evaluation.per_source import source_metrics
from goemox.file_io import check_output_folder, write_json_atomically
from goemox.hub.model_card import ModelCardCallback, render_model_card
from goemox.hub.push import check_repo_id
from goemox.inference.predictor import LongText
from goemox.labels import LabelScheme, get_label_scheme
from goemox.run_folder import (
    CARD_FILE,
    CONFIG_FILE,
    CURVE_FILE,
    METRICS_FILE,
    METRICS_SCHEMA_VERSION,
    RELIABILITY_FILE,
    RUN_CONFIG_FILE,
    library_versions,
    read_run_file,
)
from goemox.scores import sigmoid
from goemox.training.adaptation import build_model, starting_point
from goemox.training.arguments import DataArguments, ModelArguments, check_max_length, run_inputs
from goemox.training.data_setup import (
    buckets_within_max_length,
    load_data,
    merge_for_final_training,
    several_corpora_setup,
    sources_compute_metrics,
)
from goemox.training.report import plot_training_curve
from goemox.training.trainer import GoEmoXTrainer
from goemox.training.training_args import GoEmoXTrainingArguments

logger = logging.getLogger(__name__)


def check_output_dir(args: GoEmoXTrainingArguments, inputs: Iterable[str | None] = ()) -> None:
    """Refuse, before any work, an `output_dir` the run may not write: a file, a place where nothing can be created,
    a folder that is, holds or lies inside one of the run's inputs (even with `--overwrite_output_dir`), or a folder
    that already holds files unless resuming or explicitly overwriting.

    Args:
        args: the training options (`output_dir`, `overwrite_output_dir`, `resume_from_checkpoint`).
        inputs: the local files and folders the run reads (see :func:`run_inputs`); other names are ignored.

    Example:

    ```python
    >>> check_output_dir(GoEmoXTrainingArguments("runs/demo"), ["../shared/models/all-MiniLM-L6-v2"])  # doctest: +SKIP
    ```"""
    out = check_output_folder(args.output_dir, overwrite=True, inputs=inputs, option="--output_dir")
    if args.resume_from_checkpoint or args.overwrite_output_dir or not out.exists():
        return
    if any(out.iterdir()):
        raise GoEmoXUsageError(
            f"output_dir {out} already holds files; pass --overwrite_output_dir to replace them, "
            "--resume_from_checkpoint last to continue that run, or choose another folder"
        )


def logits_and_labels(trainer: GoEmoXTrainer, dataset) -> tuple[np.ndarray, np.ndarray]:
    """Logits and 0/1 labels for a tokenized split (gathered once across processes)."""
    output = trainer.predict(dataset)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    labels = output.label_ids[0] if isinstance(output.label_ids, tuple) else output.label_ids
    return check_finite_logits(np.asarray(logits, dtype=np.float64)), (np.asarray(labels) >= 0.5).astype(int)


@dataclass
class RunData:
    """The data of one run, ready for the Trainer.

    Attributes:
        raw: the loaded splits (train merged with others for a `--train_on` run).
        tokenized: the same splits tokenized (validation and test sorted by length).
        tokenizer: the tokenizer they were encoded with.
        training_args: the arguments to train with (a `--train_on` run trains for a fixed number of epochs).
        stored_thresholds: a `--train_on` run's thresholds from `--thresholds_from` (else `None`).
        duplicates_dropped: exact duplicate rows dropped before an automatic split.
        truncated: split -> texts cut at `--max_length`.
        sources: several corpora: each source's name, data, annotated labels and rows (`None` for one corpus).
    """

    raw: DatasetDict
    tokenized: DatasetDict
    tokenizer: object
    training_args: GoEmoXTrainingArguments
    stored_thresholds: list[float] | None
    duplicates_dropped: int
    truncated: dict[str, int]
    sources: list[dict] | None = None


def prepare_data(
    model_args: ModelArguments, data_args: DataArguments, training_args: GoEmoXTrainingArguments, scheme: LabelScheme
) -> RunData:
    """Load, merge (for `--train_on`) and tokenize the splits; count duplicates dropped and texts cut."""
    training_args = buckets_within_max_length(training_args, data_args)
    raw, report = load_data(data_args, scheme)
    stored_thresholds = None
    if data_args.train_on != "train":
        stored_thresholds = thresholds_of_validated_run(data_args.thresholds_from, scheme)
        raw, training_args = merge_for_final_training(raw, data_args.train_on, training_args)
    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_args.model_name_or_path)
    LongText.of(data_args).resolved(None, data_args.max_length, tokenizer.num_special_tokens_to_add(pair=False))
    truncated = count_truncated(raw, tokenizer, data_args.max_length)
    if any(truncated.values()):
        logger.info(
            "Texts cut at --max_length %d: %s",
            data_args.max_length,
            ", ".join(f"{name} {count}" for name, count in truncated.items()),
        )
    tokenized = tokenize_dataset(raw, tokenizer, max_length=data_args.max_length)
    for split in ("validation", "test"):
        if split in tokenized:  # evaluation batches of similar lengths carry little padding
            tokenized[split] = tokenized[split].sort("length")
    sources, training_args = several_corpora_setup(data_args, training_args, raw, scheme)
    return RunData(
        raw, tokenized, tokenizer, training_args, stored_thresholds, report.duplicates_dropped, truncated, sources
    )


class RunExtension(Protocol):
    """What a job built on :func:`run_training` adds to it: more or richer training rows, its own Trainer, and a
    record (`goemox distill` is one: :class:`goemox.training.distillation.Distillation`).

    Attributes:
        name: the key of its record in `metrics.json` and of its options in `run_config.json`.
    """

    name: str

    def prepare(self, data: RunData, scheme: LabelScheme) -> RunData:
        """The run's data with what the job adds (called after :func:`prepare_data`, before the model is built)."""

    def make_trainer(self, **kwargs) -> GoEmoXTrainer:
        """The Trainer, from the keyword arguments `GoEmoXTrainer` takes."""

    def record(self) -> dict:
        """What `metrics.json` records of the job."""

    def recorded_options(self) -> dict:
        """What `run_config.json` records of the job's options."""


def fit(
    model_args: ModelArguments,
    data: RunData,
    scheme: LabelScheme,
    callbacks: list[TrainerCallback] | None,
    make_trainer: Callable[..., GoEmoXTrainer] = GoEmoXTrainer,
) -> tuple[GoEmoXTrainer, ModelCardCallback, dict]:
    """Build the model and train it (resuming if asked) with the Trainer `make_trainer` builds; returns the trainer,
    the card log and the train metrics."""
    args = data.training_args
    resume = resume_checkpoint(args)
    card_log = ModelCardCallback()
    trainer = make_trainer(
        model=build_model(model_args, scheme),
        args=args,
        train_dataset=data.tokenized["train"],
        eval_dataset=None if data.stored_thresholds is not None else data.tokenized["validation"],
        processing_class=data.tokenizer,
        compute_metrics=sources_compute_metrics(data.sources, scheme),
        callbacks=[*(callbacks or []), card_log],
    )
    train_output = trainer.train(resume_from_checkpoint=resume)
    return trainer, card_log, train_output.metrics


def run_metrics(
    trainer: GoEmoXTrainer,
    data: RunData,
    data_args: DataArguments,
    scheme: LabelScheme,
    train_metrics: dict,
    card_log: ModelCardCallback,
) -> tuple[dict, dict[str, tuple]]:
    """Calibrate the model on validation (`--calibration`), tune (or keep) the thresholds, store the out-of-domain
    cutoff (`--ood_score`), and measure validation and test.

    Calibration and thresholds follow the support rules of `goemox.calibration.fitting`: a label has values of its
    own only where its validation positives carry them. `metrics["validation"]` compares the threshold strategies
    on the uncalibrated scores.

    Returns:
        `metrics.json`, and per split `(labels, probabilities before, after)` over the annotated pairs for the
        reliability diagram (validation: cross-fitted).
    """
    labels = list(scheme.labels)
    metrics: dict = {
        "metrics_schema_version": METRICS_SCHEMA_VERSION,
        "label_names": labels,
        "label_scheme": scheme.name,
        "train_on": data_args.train_on,
        "threshold_strategy": data_args.threshold_strategy,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_macro_f1_at_0.5": trainer.state.best_metric,
        "epochs_trained": trainer.state.epoch,
        "train_runtime_s": train_metrics.get("train_runtime"),
        "train_samples_per_second": train_metrics.get("train_samples_per_second"),
        "rows": {name: len(split) for name, split in data.raw.items()},
        "duplicates_dropped": data.duplicates_dropped,
        "truncated": data.truncated,
        "processes": data.training_args.world_size,
    }
    if data.sources:
        metrics["sources"] = data.sources
        metrics["selection"] = {
            "early_stopping_and_checkpoint": f"validation {trainer.args.metric_for_best_model} at 0.5 ("
            + ("pooled over annotated (row, label) pairs" if data_args.select_on == "pooled" else data_args.select_on)
            + ")",
            "thresholds": f"{data_args.threshold_strategy}, tuned on the validation rows that annotate each label",
        }
    scored = [split for split in ("validation", "test") if split in data.tokenized]
    masks = {split: mask_of(data.tokenized[split]) for split in scored} if data.sources else {}
    predicted = {split: logits_and_labels(trainer, data.tokenized[split]) for split in scored}
    reliability: dict[str, tuple] = {}
    if data.stored_thresholds is not None:
        thresholds = data.stored_thresholds
        metrics["thresholds_from"] = data_args.thresholds_from
        metrics["validation"] = None  # the validation rows were trained on
        metrics["calibration"] = {"method": "none", "reason": "no validation split left to fit it on"}
        predicted.pop("validation", None)
        if data_args.calibration != "none" or data_args.ood_score != "none":
            logger.warning(
                "Training on %s leaves no validation data: the model is saved without calibration and without an "
                "out-of-domain cutoff",
                data_args.train_on,
            )
    else:
        val_logits, val_true = predicted["validation"]
        val_mask = masks.get("validation")
        metrics["validation"] = threshold_report(val_true, sigmoid(val_logits), labels, mask=val_mask)
        fitted = fit_on_validation(val_logits, val_true, data_args.calibration, data_args.threshold_strategy, val_mask)
        metrics["fitted_per_label"] = [{**record, "label": labels[record["label"]]} for record in fitted.labels]
        metrics["support_rules"] = {**fitted.rules.to_dict(), "summary": fitted.summary()}
        logger.info("Validation support: %s", fitted.summary())
        reliability = calibrate_model(trainer.model, predicted, fitted, data_args.calibration, masks, metrics)
        thresholds = fitted.thresholds
        val_logits = predicted["validation"][0]  # calibrated
        store_ood_cutoff_of_run(trainer.model.config, val_logits, data_args)
        if data.sources:
            val_sources = source_ids_of(data.tokenized["validation"])
            metrics["validation_by_source"] = source_metrics(
                val_true, sigmoid(val_logits), val_sources, data.sources, labels, thresholds
            )
    trainer.model.config.thresholds = thresholds
    metrics["thresholds"] = thresholds
    metrics["ood_cutoff"] = getattr(trainer.model.config, "ood_cutoff", None)
    if "test" in predicted:
        test_logits, test_true = predicted["test"]
        test_probs = sigmoid(test_logits)
        if data.sources:
            mask = masks["test"]
            fixed = annotated_metrics(test_true, test_probs, mask, labels, 0.5)
            tuned = annotated_metrics(test_true, test_probs, mask, labels, thresholds)
        else:
            fixed = multilabel_metrics(test_true, test_probs, labels, 0.5)
            tuned = multilabel_metrics(test_true, test_probs, labels, thresholds)
        metrics["test"] = {"held_out": "test" not in data_args.train_on, "fixed_0.5": fixed, "tuned": tuned}
        if data.sources:
            metrics["test_by_source"] = source_metrics(
                test_true, test_probs, source_ids_of(data.tokenized["test"]), data.sources, labels, thresholds
            )
    metrics["best_epoch"] = epoch_of_checkpoint(trainer)
    metrics["epochs"] = card_log.epoch_log()
    return metrics, reliability


def calibrate_model(
    model,
    predicted: dict[str, tuple[np.ndarray, np.ndarray]],
    fitted: FittedOnValidation,
    method: str,
    masks: dict[str, np.ndarray],
    metrics: dict,
) -> dict[str, tuple]:
    """Fold the fitted calibration into `model`, map every split's logits in `predicted`, and record its error.

    `metrics["calibration"]` holds the map and each split's calibration error before and after, both out of
    sample: on validation the map is cross-fitted (each fold scored by the map fitted on the others), on test it is
    the map fitted on validation.

    Args:
        model: the trained model (changed in place).
        predicted: split -> (logits, labels) of the uncalibrated model; the logits are replaced by calibrated ones.
        fitted: the calibration and thresholds fitted on validation.
        method: the calibration method.
        masks: split -> annotated pairs (several corpora); empty otherwise.
        metrics: the run's `metrics.json` content.

    Returns:
        Per split, `(labels, probabilities before, after)` over the annotated pairs.
    """
    if fitted.logit_map is None:
        metrics["calibration"] = {"method": "none"}
        return {}
    fold_logit_map(model, fitted.logit_map)
    record = {"method": method, "fitted_on": "validation", "map": fitted.logit_map.to_dict()}
    val_logits, val_true = predicted["validation"]
    crossed = cross_fitted_probabilities(val_logits, val_true, method, masks.get("validation"), fitted.rules)
    reliability = {}
    for split, (logits, labels) in predicted.items():
        mask = masks.get(split)
        calibrated = fitted.logit_map.apply(logits)
        before, after = sigmoid(logits), crossed if split == "validation" else sigmoid(calibrated)
        record[split] = {
            "before": calibration_error(before, labels, mask=mask),
            "after": calibration_error(after, labels, mask=mask),
            "after_measured": f"cross-fitted on {fitted.rules.cross_fit_folds} folds"
            if split == "validation"
            else "held out, with the map fitted on validation",
        }
        keep = np.ones(labels.shape, dtype=bool) if mask is None else mask > 0
        reliability[split] = (labels[keep], before[keep], after[keep])
        predicted[split] = (calibrated, labels)
    metrics["calibration"] = record
    logger.info("Calibration (%s) folded into the output layer: %s", method, calibration_summary(record))
    return reliability


def calibration_summary(record: dict) -> str:
    """One line of a run's calibration record: ECE per label before -> after, per split, and how it was measured.

    Example:
        >>> calibration_summary(metrics["calibration"])  # doctest: +SKIP
        'ECE per label: validation 0.3120 -> 0.0310 (cross-fitted on 5 folds), test 0.3050 -> 0.0290 (held out, ...)'
    """
    parts = [
        f"{split} {record[split]['before']['ece_per_label']:.4f} -> {record[split]['after']['ece_per_label']:.4f} "
        f"({record[split]['after_measured']})"
        for split in ("validation", "test")
        if split in record
    ]
    return "ECE per label: " + ", ".join(parts)


def store_ood_cutoff_of_run(config, val_logits: np.ndarray, data_args: DataArguments) -> None:
    """Set `config.ood_cutoff` from the (calibrated) validation logits, unless `--ood_score none`."""
    if data_args.ood_score == "none":
        return
    config.ood_cutoff = validation_ood_cutoff(
        val_logits, data_args.ood_score, data_args.ood_quantile, "the validation split", config
    )
    logger.info("Out-of-domain cutoff stored: %s", config.ood_cutoff["source"])


def mask_of(split) -> np.ndarray:
    """The `label_mask` of a pooled split, as a `(rows, labels)` 0/1 matrix in the split's order."""
    return np.asarray(split.with_format("numpy")[MASK_COLUMN], dtype=np.float32)


def source_ids_of(split) -> np.ndarray:
    """The `source_id` of each row of a pooled split."""
    return np.asarray(split[SOURCE_COLUMN])


def save_run(trainer: GoEmoXTrainer, metrics: dict, run_config: dict, reliability: dict[str, tuple]) -> Path:
    """Write the model, `metrics.json`, `run_config.json`, the training curve, the reliability diagram (when a
    calibration was fitted) and the model card."""
    out = Path(trainer.args.output_dir)
    trainer.save_model(str(out))
    write_json_atomically(out / METRICS_FILE, metrics)
    write_json_atomically(out / RUN_CONFIG_FILE, json.loads(json.dumps(run_config, default=str)))
    plot_training_curve(trainer.state.log_history, out / CURVE_FILE, metrics["best_epoch"])
    if reliability:
        plot_overall_reliability(reliability, out / RELIABILITY_FILE)
    render_model_card(out).save(out / CARD_FILE)
    return out


def recorded_training_options(args: GoEmoXTrainingArguments, requested: GoEmoXTrainingArguments) -> dict:
    """The training options of `run_config.json`: those trained with, with the push the user asked for (goemox
    pushes the model itself) and never the token."""
    options = args.to_dict()
    options["push_to_hub"] = requested.push_to_hub
    options["hub_model_id"] = requested.hub_model_id
    options["hub_token"] = None
    return options


def run_training(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GoEmoXTrainingArguments,
    callbacks: list[TrainerCallback] | None = None,
    search_summary: dict | None = None,
    extension: RunExtension | None = None,
) -> dict:
    """Fine-tune, tune thresholds on validation, evaluate on test and save everything to `output_dir`.

    Writes the model (safetensors, with its thresholds and any `--long_text` settings in `config.json`), the
    tokenizer, `metrics.json`, `run_config.json`, `training_curve.png` and the model card `README.md`. Returns the
    content of `metrics.json`.

    Args:
        model_args: encoder and head options.
        data_args: data source, label scheme and tokenization options.
        training_args: optimisation, evaluation and output options.
        callbacks: extra `TrainerCallback`s (e.g. timing or reporting).
        search_summary: the `best_params.json` of the `goemox search` the options came from, for the model card.
        extension: what a job built on this one adds (its data, Trainer and records), e.g. `goemox distill`.

    Example:

    ```python
    >>> metrics = run_training(ModelArguments(), DataArguments(dataset="demo"),
    ...                        GoEmoXTrainingArguments(output_dir="runs/demo"))  # doctest: +SKIP
    ```"""
    check_output_dir(training_args, run_inputs(model_args, data_args))
    check_max_length(model_args, data_args)
    requested, publish, hub_token = training_args, training_args.push_to_hub, training_args.hub_token
    if publish:  # goemox publishes the finished model itself, not the Trainer's checkpoints
        check_repo_id(training_args.hub_model_id, "--push_to_hub needs --hub_model_id")
    if publish or hub_token:  # the Trainer would pickle the token into training_args.bin
        training_args = replace(training_args, push_to_hub=False, hub_token=None)
    set_seed(training_args.seed)
    scheme = get_label_scheme(data_args.resolved_scheme())
    data = prepare_data(model_args, data_args, training_args, scheme)
    if extension is not None:
        data = extension.prepare(data, scheme)
    make_trainer = extension.make_trainer if extension is not None else GoEmoXTrainer
    trainer, card_log, train_metrics = fit(model_args, data, scheme, callbacks, make_trainer)
    metrics, reliability = run_metrics(trainer, data, data_args, scheme, train_metrics, card_log)
    metrics["initialised_from"] = starting_point(model_args.model_name_or_path, scheme).to_dict()
    if extension is not None:
        metrics[extension.name] = extension.record()
    trainer.model.config.update(LongText.of(data_args).stored_settings())  # the default of prediction
    if trainer.is_world_process_zero():
        run_config = {
            "model": asdict(model_args),
            "data": asdict(data_args),
            "training": recorded_training_options(data.training_args, requested),
            "versions": library_versions(),
            "search": search_summary,
        }
        if extension is not None:
            run_config[extension.name] = extension.recorded_options()
        out = save_run(trainer, metrics, run_config, reliability)
        if publish:
            from goemox.hub.push import push_to_hub

            metrics["hub_commit_url"] = push_to_hub(
                out,
                requested.hub_model_id,
                private=requested.hub_private_repo,
                revision=requested.hub_revision,
                token=hub_token,
            )
    return metrics


def last_complete_checkpoint(output_dir: str | Path) -> str | None:
    """The `checkpoint-N` folder with the highest N that holds `trainer_state.json` and model weights.

    A run killed while writing a checkpoint leaves a newer folder without them; it is passed over.

    Args:
        output_dir: the run's output folder.

    Example:

    ```python
    >>> last_complete_checkpoint("runs/goemox")  # doctest: +SKIP
    'runs/goemox/checkpoint-1200'
    ```"""
    complete = []
    for folder in Path(output_dir).glob("checkpoint-*"):
        step = folder.name.removeprefix("checkpoint-")
        weights = [*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin")]
        if step.isdigit() and (folder / "trainer_state.json").is_file() and weights:
            complete.append((int(step), folder))
    return str(max(complete)[1]) if complete else None


def resume_checkpoint(args: GoEmoXTrainingArguments) -> str | None:
    """The checkpoint `--resume_from_checkpoint` names (`last`: the last complete one in `output_dir`)."""
    if args.resume_from_checkpoint != "last":
        return args.resume_from_checkpoint
    found = last_complete_checkpoint(args.output_dir)
    if found is None:
        raise GoEmoXUsageError(
            f"--resume_from_checkpoint last: {args.output_dir} holds no complete checkpoint "
            "(a checkpoint-N folder with trainer_state.json and the model weights)"
        )
    logger.info("Resuming from %s", found)
    return found


def thresholds_of_validated_run(path: str | None, scheme: LabelScheme) -> list[float]:
    """The per-label thresholds of an earlier run that was validated (its folder or its config.json)."""
    if path is None:
        raise GoEmoXUsageError(
            "--train_on other than 'train' leaves no validation data to tune thresholds on: pass --thresholds_from "
            "with the folder of a run trained on train only, with the same hyperparameters"
        )
    config_path = Path(path) / CONFIG_FILE if Path(path).is_dir() else Path(path)
    if not config_path.is_file():
        raise GoEmoXUsageError(f"{config_path}: no such file; expected a saved model folder or its {CONFIG_FILE}")
    config = read_run_file(config_path.parent, config_path.name)
    labels = [config.get("id2label", {}).get(str(i)) for i in range(len(config.get("id2label", {})))]
    if labels != list(scheme.labels) or not config.get("thresholds"):
        raise GoEmoXUsageError(
            f"{config_path}: expected thresholds for the labels {list(scheme.labels)}, got labels {labels}"
        )
    return [float(t) for t in config["thresholds"]]


def epoch_of_checkpoint(trainer: GoEmoXTrainer) -> float | None:
    """The epoch at which the selected (best) checkpoint was saved."""
    best = trainer.state.best_model_checkpoint
    if best is None:
        return None
    step = int(Path(best).name.split("-")[-1])
    for entry in trainer.state.log_history:
        if entry.get("step") == step and "eval_loss" in entry:
            return entry["epoch"]
    return None
