"""The `goemox` command line: `train`, `search`, `evaluate`, `predict`, `calibrate`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from .errors import GoEmoXError, GoEmoXUsageError

TRAIN_HELP = """Fine-tune an encoder with the Tanh head. Every option can also come from a YAML/JSON file given with
--config (flags on the command line win). Run `goemox train --help` for the full list."""


SEARCH_HELP = """Search hyperparameters with Optuna (maximising validation macro-F1). Takes every `goemox train` option
(they fix what is not searched) plus the search options; --config works as for train."""


def read_config_file(path: str) -> dict:
    """Options from a YAML or JSON file (a mapping of option name to value)."""
    file = Path(path)
    if not file.is_file():
        raise GoEmoXUsageError(f"{path}: no such config file")
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise GoEmoXUsageError(f"{path}: not valid YAML/JSON ({err})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise GoEmoXUsageError(f"{path}: expected a mapping of option names to values, got {type(content).__name__}")
    return content


def train_parser(search: bool = False):
    """The `HfArgumentParser` over the model, data and training dataclasses (and the search options)."""
    from transformers import HfArgumentParser

    from .arguments import DataArguments, ModelArguments
    from .search import SearchArguments
    from .training_args import GoEmoXTrainingArguments

    classes = (ModelArguments, DataArguments, GoEmoXTrainingArguments) + ((SearchArguments,) if search else ())
    if search:
        return HfArgumentParser(classes, prog="goemox search", description=SEARCH_HELP)
    return HfArgumentParser(classes, prog="goemox train", description=TRAIN_HELP)


def read_params_file(path: str) -> dict:
    """The `params` of a `best_params.json` written by `goemox search`."""
    content = read_config_file(path)
    if not isinstance(content.get("params"), dict):
        raise GoEmoXUsageError(f"{path}: expected a best_params.json from `goemox search` (a 'params' mapping)")
    return content["params"]


def parse_train_args(argv: Sequence[str], search: bool = False):
    """Dataclasses from `--config FILE`, then `--params best.json`, then flags (each overrides the one before)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    pre.add_argument("--params")
    known, rest = pre.parse_known_args(list(argv))
    parser = train_parser(search)
    valid = {action.dest for action in parser._actions}
    for path, options in ((known.config, read_config_file), (known.params, read_params_file)):
        if not path:
            continue
        values = options(path)
        unknown = sorted(set(values) - valid)
        if unknown:
            raise GoEmoXUsageError(f"{path}: unknown option(s) {unknown}; see `goemox train --help`")
        parser.set_defaults(**values)
    return parser.parse_args_into_dataclasses(rest)


def search_main(argv: Sequence[str]) -> int:
    """Run `goemox search` (also `scripts/search.py`)."""
    from .search import run_search

    model_args, data_args, training_args, search_args = parse_train_args(argv, search=True)
    result = run_search(model_args, data_args, training_args, search_args)
    print(f"\nBest trial {result['trial']}: validation macro-F1 {result['value']:.4f}")
    print(f"Wrote trials.csv, best_params.json and plots to {training_args.output_dir}")
    print(f"Resume or add workers with the same --study_name {result['study_name']} --storage {result['storage']}")
    print(f"Train with them: goemox train --params {Path(training_args.output_dir) / 'best_params.json'} ...")
    return 0


def train_main(argv: Sequence[str]) -> int:
    """Run `goemox train` (also the body of `scripts/train.py` under `accelerate launch`)."""
    from .train import run_training

    model_args, data_args, training_args = parse_train_args(argv)
    metrics = run_training(model_args, data_args, training_args)
    if training_args.process_index == 0:
        print_training_summary(metrics, training_args.output_dir)
        print_example_prediction(training_args.output_dir)
    return 0


def print_training_summary(metrics: dict, output_dir: str) -> None:
    """Print the validation and test headline metrics of a finished run."""
    rows = [("validation, tuned thresholds", metrics["validation"]["per_class"])] if metrics["validation"] else []
    if "test" in metrics:
        rows += [
            ("test, threshold 0.5", metrics["test"]["fixed_0.5"]),
            ("test, thresholds tuned on validation", metrics["test"]["tuned"]),
        ]
    print(f"\nSaved model, metrics.json and training_curve.png to {output_dir}")
    print(f"{'':<38}{'macro-F1':>9}{'micro-F1':>9}{'ROC-AUC':>9}{'Hamming':>9}")
    for name, values in rows:
        auc = values["roc_auc_macro"]
        auc_text = f"{auc:>9.4f}" if auc is not None else f"{'n/a':>9}"
        print(
            f"{name:<38}{values['macro_f1']:>9.4f}{values['micro_f1']:>9.4f}{auc_text}{values['hamming_score']:>9.4f}"
        )


EXAMPLE_TEXT = "Thank you so much for the help, I was really worried but now I'm so happy!"


def print_example_prediction(model_dir: str, text: str = EXAMPLE_TEXT) -> None:
    """Load the saved model with `pipeline()` (as any user would) and show its scores and labels for one text."""
    from transformers import pipeline

    classifier = pipeline("text-classification", model=model_dir, top_k=None)
    scores = classifier([text])[0]
    thresholds = classifier.model.config.thresholds or [0.5] * len(scores)
    by_label = dict(zip([classifier.model.config.id2label[i] for i in range(len(thresholds))], thresholds))
    chosen = [s["label"] for s in scores if s["score"] >= by_label[s["label"]]]
    print(f"\nExample, through pipeline('text-classification', model={model_dir!r}, top_k=None):")
    print(f"  text:   {text}")
    print("  scores: " + ", ".join(f"{s['label']} {s['score']:.3f}" for s in scores[:5]) + ", ...")
    print(f"  labels at the tuned thresholds: {chosen or '(none)'}")


def add_labelled_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data options shared by commands that score a saved model on labelled texts."""
    parser.add_argument("--dataset", default=None, help="Same sources as `goemox train --dataset`.")
    (
        parser.add_argument("--train_file"),
        parser.add_argument("--validation_file"),
        parser.add_argument("--test_file"),
    )
    parser.add_argument("--dataset_config", default="simplified")
    parser.add_argument("--scheme", default=None, help="Label scheme of the data (default: stored with the model).")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--label_column", default="labels")
    parser.add_argument("--label_separator", default=",")
    parser.add_argument("--split_seed", type=int, default=42, help="Seed of an automatic split (as in train).")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)


def data_source_options(args: argparse.Namespace) -> dict:
    """The `load_emotion_dataset` keyword arguments given by `add_labelled_data_arguments` options."""
    return {
        "source": args.dataset,
        "train_file": args.train_file,
        "validation_file": args.validation_file,
        "test_file": args.test_file,
        "dataset_config": args.dataset_config,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "label_separator": args.label_separator,
        "seed": args.split_seed,
    }


def add_evaluate_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="Score a saved model on a labelled split.")
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id.")
    add_labelled_data_arguments(parser)
    parser.add_argument("--split", default="test", help="Split to score (default: test).")
    parser.add_argument("--output", default=None, help="Write the metrics as JSON here.")


def evaluate_main(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_model, format_metrics_table

    classifier = load_classifier(args.model, args.max_length, args.batch_size)
    options = data_source_options(args)
    result = evaluate_model(classifier, options.pop("source"), split=args.split, scheme=args.scheme, **options)
    print(f"{result['split']}: {result['rows']} rows, stored thresholds\n")
    print(format_metrics_table(result["stored_thresholds"]))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
        print(f"\nWrote {args.output}")
    return 0


CALIBRATE_HELP = """Fit a temperature on validation data (binary cross-entropy of sigmoid(logits / T)), fold it into the
model's output layer, re-tune the thresholds and save the calibrated model; writes report.md with reliability
diagrams and expected calibration error (ECE) before and after."""


def add_calibrate_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="Temperature scaling of a saved model's scores.", description=CALIBRATE_HELP
    )
    parser.add_argument("--model", required=True, help="Saved model folder.")
    add_labelled_data_arguments(parser)
    parser.add_argument("--split", default="validation", help="Split to fit on (default: validation).")
    parser.add_argument("--test_split", default=None, help="Also score this split once, before and after (e.g. test).")
    parser.add_argument("--per_class", action="store_true", help="Fit one temperature per label.")
    parser.add_argument("--output_dir", default=None, help="New folder for the calibrated model.")
    parser.add_argument("--in_place", action="store_true", help="Replace the model folder's files instead.")
    parser.add_argument("--overwrite", action="store_true", help="Write into --output_dir/--report_dir with files.")
    parser.add_argument("--report_dir", default=None, help="Report folder (default: OUTPUT/calibration).")
    parser.add_argument(
        "--threshold_strategy",
        choices=["per_class", "global", "fixed"],
        default=None,
        help="How thresholds are re-tuned (default: as in the model's training run, else per_class).",
    )
    parser.add_argument("--bins", type=int, default=15, help="Equal-width probability bins of the ECE.")


def calibrate_main(args: argparse.Namespace) -> int:
    from .calibrate import CalibrationRequest, calibrate

    request = CalibrationRequest(
        model=args.model,
        output_dir=args.output_dir,
        in_place=args.in_place,
        overwrite=args.overwrite,
        per_class=args.per_class,
        split=args.split,
        test_split=args.test_split,
        report_dir=args.report_dir,
        threshold_strategy=args.threshold_strategy,
        bins=args.bins,
        scheme=args.scheme,
        max_length=args.max_length,
        batch_size=args.batch_size,
        data=data_source_options(args),
    )
    result = calibrate(request)
    temperature = result["temperature"]
    shown = f"{temperature:.4f}" if isinstance(temperature, float) else f"{min(temperature):.3f}-{max(temperature):.3f}"
    print(f"\nTemperature: {shown} (fitted on {result['fit_split']})")
    print(f"{'':<18}{'ECE mean/label':>16}{'ECE pooled':>12}{'NLL':>9}{'macro-F1':>10}")
    for split, scores in result["splits"].items():
        for state in ("before", "after"):
            values = scores[state]
            print(
                f"{split + ', ' + state:<18}{values['ece']['class_mean']:>16.4f}{values['ece']['pooled']:>12.4f}"
                f"{values['nll']:>9.4f}{values['metrics']['macro_f1']:>10.4f}"
            )
    for note in result["notes"]:
        print(f"Note: {note}")
    print(f"Saved the calibrated model to {result['output']} and the report to {result['report']}")
    return 0


def add_predict_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="Label texts from a file or standard input.")
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id.")
    parser.add_argument("--input", default="-", help="TXT (one text per line), CSV/TSV or JSONL file; - for stdin.")
    parser.add_argument("--input_format", choices=["txt", "csv", "tsv", "jsonl"], default=None)
    parser.add_argument("--text_column", default="text", help="Column with the text (CSV/TSV/JSONL).")
    parser.add_argument("--output", default="-", help="Output file; - for stdout.")
    parser.add_argument(
        "--output_format",
        choices=["jsonl", "csv"],
        default=None,
        help="Default: from the output extension, else jsonl.",
    )
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument(
        "--ensure_top_label", action="store_true", help="Give every text at least its most probable label."
    )


def predict_main(args: argparse.Namespace) -> int:
    from .predict_io import read_inputs, write_predictions

    rows = read_inputs(args.input, args.text_column, args.input_format)
    classifier = load_classifier(args.model, args.max_length, args.batch_size)
    predictions = classifier.predict(
        [row[args.text_column] for row in rows], ensure_top_label=args.ensure_top_label, show_progress=True
    )
    fmt = args.output_format or ("csv" if args.output.lower().endswith(".csv") else "jsonl")
    write_predictions(rows, predictions, args.output, fmt)
    if args.output != "-":
        print(f"Wrote {len(rows)} predictions to {args.output}", file=sys.stderr)
    return 0


def load_classifier(model: str, max_length: int, batch_size: int):
    """Load a model for prediction, turning a missing or invalid folder into a plain message."""
    from .inference import EmotionClassifier

    if Path(model).exists() and not (Path(model) / "config.json").is_file():
        raise GoEmoXUsageError(f"{model}: not a saved model folder (no config.json)")
    try:
        return EmotionClassifier.from_pretrained(model, max_length=max_length, batch_size=batch_size)
    except OSError as err:
        raise GoEmoXUsageError(f"could not load the model {model!r}: {err}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="goemox", description="Multi-label emotion classification.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    subparsers.add_parser("train", help="Fine-tune a model (see `goemox train --help`).", add_help=False)
    subparsers.add_parser("search", help="Optuna hyperparameter search (see `goemox search --help`).", add_help=False)
    add_evaluate_parser(subparsers)
    add_predict_parser(subparsers)
    add_calibrate_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `goemox` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "train":
            return train_main(argv[1:])
        if argv and argv[0] == "search":
            return search_main(argv[1:])
        args = build_parser().parse_args(argv)
        return {"evaluate": evaluate_main, "predict": predict_main, "calibrate": calibrate_main}[args.command](args)
    except GoEmoXError as err:
        print(f"goemox: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
