"""`goemox train` (fine-tune), `goemox distill` (learn from teachers) and `goemox search` (Optuna); `scripts/train.py`
and `scripts/distill.py` run the first two under `accelerate`."""

from __future__ import annotations

from dataclasses import dataclass, field

from goemox.cli.parsing import Command, by_name
from goemox.errors import GoEmoXUsageError
from goemox.file_io import read_mapping_file
from goemox.run_folder import CARD_FILE, CURVE_FILE, METRICS_FILE, RELIABILITY_FILE

TRAIN_HELP = """Fine-tune an encoder with the Tanh head. Every option can also come from a YAML/JSON file given with
--config, and the searched options from a `goemox search` best_params.json given with --params (flags on the
command line win over both)."""

DISTILL_HELP = """Train a student (any encoder `goemox train` takes) on one or several teachers' probabilities mixed
with the gold labels, on the training texts and optionally unlabelled texts of your domain (--unlabelled_file). Takes
every `goemox train` option (data, thresholds, calibration, out-of-domain cutoff, outputs); the teachers score each
set of texts once (cached). --config and --params work as for train."""

SEARCH_HELP = """Search hyperparameters with Optuna (maximising validation macro-F1). Takes every `goemox train` option
(they fix what is not searched) plus the search options; --config works as for train."""

EXAMPLE_TEXT = "Thank you so much for the help, I was really worried but now I'm so happy!"


def read_search_summary(path: str) -> dict:
    """A `best_params.json` written by `goemox search` (its `params`, best value, trial counts...)."""
    content = read_mapping_file(path)
    if not isinstance(content.get("params"), dict):
        raise GoEmoXUsageError(f"{path}: expected a best_params.json from `goemox search` (a 'params' mapping)")
    return content


def read_params_file(path: str) -> dict:
    """The `params` of a `best_params.json` written by `goemox search`."""
    return read_search_summary(path)["params"]


@dataclass
class ParamsArguments:
    """The `goemox search` result a run takes its searched options from."""

    params: str | None = field(
        default=None,
        metadata={
            "help": "A best_params.json of `goemox search`: its parameters (flags win), named in the model card."
        },
    )


def run_train(model_args, data_args, training_args, params: ParamsArguments | None = None) -> int:
    from goemox.training.train import run_training

    summary = read_search_summary(params.params) if params is not None and params.params else None
    metrics = run_training(model_args, data_args, training_args, search_summary=summary)
    if training_args.process_index == 0:
        print_training_summary(metrics, training_args.output_dir)
        print_example_prediction(training_args.output_dir)
    return 0


def run_distill(model_args, data_args, training_args, distill_args, params: ParamsArguments | None = None) -> int:
    import logging

    from goemox.training.distillation import run_distillation

    logging.basicConfig(format="goemox distill: %(message)s")  # scoring with the teachers takes a while: say so
    logging.getLogger("goemox.training.teachers").setLevel(logging.INFO)
    summary = read_search_summary(params.params) if params is not None and params.params else None
    metrics = run_distillation(model_args, data_args, training_args, distill_args, search_summary=summary)
    if training_args.process_index == 0:
        print_training_summary(metrics, training_args.output_dir)
        print_distillation_summary(metrics["distillation"])
        print_example_prediction(training_args.output_dir)
    return 0


def print_distillation_summary(record: dict) -> None:
    """Print which teachers and texts a distilled model learnt from (`metrics.json`'s `distillation`)."""
    teachers = ", ".join(
        f"{teacher['source']} ({'cached logits' if teacher['logits_from_cache'] else 'scored now'})"
        for teacher in record["teachers"]
    )
    rows = record["rows"]
    print(f"Distilled from {len(record['teachers'])} teacher(s): {teachers}")
    print(
        f"Soft targets on {rows['labelled']} labelled and {rows['unlabelled']} unlabelled texts "
        f"(alpha {record['alpha']:g}, temperature {record['temperature']:g})"
    )
    unlabelled = record.get("unlabelled")
    if unlabelled and (unlabelled["repeats_left_out"] or unlabelled["in_labelled_splits_left_out"]):
        print(
            f"  {unlabelled['source']}: left out {unlabelled['repeats_left_out']} repeated text(s) and "
            f"{unlabelled['in_labelled_splits_left_out']} text(s) of the labelled splits"
        )


def run_search(model_args, data_args, training_args, search_args) -> int:
    from pathlib import Path

    from goemox.training.search import run_search as search

    result = search(model_args, data_args, training_args, search_args, progress=print)
    print(f"\nBest trial {result['trial']}: validation macro-F1 {result['value']:.4f}")
    print(f"Wrote trials.csv, best_params.json and plots to {training_args.output_dir}")
    print(f"Resume or add workers with the same --study_name {result['study_name']} --storage {result['storage']}")
    print(f"Train with them: goemox train --params {Path(training_args.output_dir) / 'best_params.json'} ...")
    return 0


def print_training_summary(metrics: dict, output_dir: str) -> None:
    """Print the validation and test headline metrics of a finished run."""
    rows = (
        [("validation, tuned thresholds", metrics["validation"]["per_class_thresholds"])]
        if metrics["validation"]
        else []
    )
    if "test" in metrics:
        rows += [
            ("test, threshold 0.5", metrics["test"]["fixed_0.5"]),
            ("test, thresholds tuned on validation", metrics["test"]["tuned"]),
        ]
    for split in ("validation", "test"):
        for name, values in (metrics.get(f"{split}_by_source") or {}).items():
            rows.append((f"{split} {name}, tuned ({len(values['tuned']['per_class'])} labels)", values["tuned"]))
    plots = CURVE_FILE + (f", {RELIABILITY_FILE}" if (metrics.get("calibration") or {}).get("map") else "")
    print(f"\nSaved model, {METRICS_FILE}, {plots} and the model card {CARD_FILE} to {output_dir}")
    if metrics.get("sources"):
        print("Several corpora: pooled rows score each label on the rows that annotate it; a corpus on its own labels.")
    print(f"{'':<38}{'macro-F1':>9}{'micro-F1':>9}{'ROC-AUC':>9}{'Hamming':>9}")
    for name, values in rows:
        auc = values["roc_auc_macro"]
        auc_text = f"{auc:>9.4f}" if auc is not None else f"{'n/a':>9}"
        print(
            f"{name:<38}{values['macro_f1']:>9.4f}{values['micro_f1']:>9.4f}{auc_text}{values['hamming_score']:>9.4f}"
        )
    calibration = metrics.get("calibration") or {}
    if calibration.get("map"):
        from goemox.training.train import calibration_summary

        print(f"Calibration ({calibration['method']}, folded into the model): {calibration_summary(calibration)}")
    if metrics.get("support_rules"):
        print(f"Validation support: {metrics['support_rules']['summary']}")
    if metrics.get("ood_cutoff"):
        cutoff = metrics["ood_cutoff"]
        print(f"Out-of-domain cutoff stored: {cutoff['source']} (predictions carry `unfamiliar`)")
        if cutoff.get("warning"):
            print(f"  Warning: {cutoff['warning']}")
    for split in ("validation", "test"):
        for name, values in (metrics.get(f"{split}_by_source") or {}).items():
            single = values.get("single_label")
            if single:
                print(
                    f"{split} {name} as single-label (argmax over its {len(single['per_label_f1'])} labels, "
                    f"{single['rows']} rows): accuracy {single['accuracy']:.4f}, macro-F1 {single['macro_f1']:.4f}"
                )


def print_example_prediction(model_dir: str, text: str = EXAMPLE_TEXT) -> None:
    """Load the saved model with `pipeline()` (as any user would) and show its scores and labels for one text."""
    from transformers import pipeline

    from goemox.scores import stored_thresholds

    classifier = pipeline("text-classification", model=model_dir, top_k=None)
    scores = classifier([text])[0]
    config = classifier.model.config
    by_label = dict(zip([config.id2label[i] for i in range(config.num_labels)], stored_thresholds(config)))
    chosen = [s["label"] for s in scores if s["score"] >= by_label[s["label"]]]
    print(f"\nExample, through pipeline('text-classification', model={model_dir!r}, top_k=None):")
    print(f"  text:   {text}")
    print("  scores: " + ", ".join(f"{s['label']} {s['score']:.3f}" for s in scores[:5]) + ", ...")
    print(f"  labels at the tuned thresholds: {chosen or '(none)'}")


def train_arguments() -> tuple[type, ...]:
    from goemox.training.arguments import DataArguments, ModelArguments
    from goemox.training.training_args import GoEmoXTrainingArguments

    return ModelArguments, DataArguments, GoEmoXTrainingArguments


def distill_arguments() -> tuple[type, ...]:
    from goemox.training.distillation import DistillArguments

    return (*train_arguments(), DistillArguments, ParamsArguments)


def search_arguments() -> tuple[type, ...]:
    from goemox.training.search import SearchArguments

    return (*train_arguments(), SearchArguments)


COMMANDS = by_name(
    Command(
        "train",
        lambda: (*train_arguments(), ParamsArguments),
        run_train,
        description=TRAIN_HELP,
        extra_files=(("--params", read_params_file),),
    ),
    Command(
        "distill",
        distill_arguments,
        run_distill,
        description=DISTILL_HELP,
        extra_files=(("--params", read_params_file),),
    ),
    Command("search", search_arguments, run_search, description=SEARCH_HELP),
)
