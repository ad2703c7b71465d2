"""The `goemox` command line: one sub-command per job (`goemox --help` lists them)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

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


def read_search_summary(path: str) -> dict:
    """A `best_params.json` written by `goemox search` (its `params`, best value, trial counts...)."""
    content = read_config_file(path)
    if not isinstance(content.get("params"), dict):
        raise GoEmoXUsageError(f"{path}: expected a best_params.json from `goemox search` (a 'params' mapping)")
    return content


def read_params_file(path: str) -> dict:
    """The `params` of a `best_params.json` written by `goemox search`."""
    return read_search_summary(path)["params"]


def params_file_of(argv: Sequence[str]) -> str | None:
    """The `--params` file named on a command line, if any."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--params")
    return pre.parse_known_args(list(argv))[0].params


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
    params_file = params_file_of(argv)
    search_summary = read_search_summary(params_file) if params_file else None
    metrics = run_training(model_args, data_args, training_args, search_summary=search_summary)
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
    print(f"\nSaved model, metrics.json, training_curve.png and the model card README.md to {output_dir}")
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


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The options that say where labelled data is and how to read it (as in `goemox train`)."""
    parser.add_argument("--dataset", default=None, help="Same sources as `goemox train --dataset`.")
    parser.add_argument("--train_file", help="CSV/TSV/JSONL training file.")
    parser.add_argument("--validation_file", help="CSV/TSV/JSONL validation file.")
    parser.add_argument("--test_file", help="CSV/TSV/JSONL test file.")
    parser.add_argument("--dataset_config", default="simplified", help="Hub dataset configuration.")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--label_column", default="labels")
    parser.add_argument("--label_separator", default=",")
    parser.add_argument("--split_seed", type=int, default=42, help="Seed of an automatic split (as in train).")


def add_labelled_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data options of commands that score a saved model on labelled texts."""
    add_data_options(parser)
    parser.add_argument("--scheme", default=None, help="Label scheme of the data (default: stored with the model).")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)


def data_load_options(args: argparse.Namespace) -> dict:
    """Keyword arguments of `load_emotion_dataset` from the options of `add_data_options`."""
    return {
        "train_file": args.train_file,
        "validation_file": args.validation_file,
        "test_file": args.test_file,
        "dataset_config": args.dataset_config,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "label_separator": args.label_separator,
        "seed": args.split_seed,
    }


def data_source_options(args: argparse.Namespace) -> dict:
    """`data_load_options` plus the data source itself (`source`)."""
    return {"source": args.dataset, **data_load_options(args)}


def add_evaluate_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="Score a saved model on a labelled split.")
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id.")
    add_labelled_data_arguments(parser)
    parser.add_argument("--split", default="test", help="Split to score (default: test).")
    parser.add_argument("--output", default=None, help="Write the metrics as JSON here.")
    parser.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="Also write an error analysis here: report.md, PNGs, analysis.json and errors.csv.",
    )
    parser.add_argument(
        "--errors_per_class", type=int, default=5, help="Most confident false positives and negatives per class."
    )
    parser.add_argument("--overwrite", action="store_true", help="Allow --report to write into a non-empty folder.")
    add_backend_arguments(parser)


def evaluate_main(args: argparse.Namespace) -> int:
    from .evaluation import format_metrics_table, score_split, split_metrics

    report_folder = None
    if args.report:
        from .report import prepare_report_folder

        if args.errors_per_class < 0:
            raise GoEmoXUsageError(f"--errors_per_class must be 0 or more, got {args.errors_per_class}")
        report_folder = prepare_report_folder(args.report, args.overwrite)
    classifier = load_classifier(args.model, args.max_length, args.batch_size, args.backend, args.precision)
    scored = score_split(classifier, args.dataset, split=args.split, scheme=args.scheme, **data_load_options(args))
    result = split_metrics(classifier, scored)
    print(f"{result['split']}: {result['rows']} rows, stored thresholds\n")
    print(format_metrics_table(result["stored_thresholds"]))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
        print(f"\nWrote {args.output}")
    if report_folder is not None:
        from .error_analysis import write_error_report

        path = write_error_report(
            scored,
            classifier.label_names,
            classifier.thresholds,
            report_folder,
            errors_per_class=args.errors_per_class,
            description=[f"model: `{args.model}`", f"data: {describe_source(args)}, split `{args.split}`"],
        )
        print(f"Wrote the error analysis to {path}")
    return 0


def describe_source(args: argparse.Namespace) -> str:
    """The data options given to a command, for the top of its report."""
    names = ("dataset", "train_file", "validation_file", "test_file")
    return ", ".join(f"{name} `{getattr(args, name)}`" for name in names if getattr(args, name)) or "none"


def add_data_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="Look at a labelled data set (`goemox data stats`).")
    commands = parser.add_subparsers(dest="data_command", required=True)
    stats = commands.add_parser(
        "stats",
        help="Label frequencies, cardinality, co-occurrence, token lengths and emoji per split.",
        description="Write report.md, stats.json and PNGs describing each split of a labelled data set.",
    )
    add_data_options(stats)
    stats.add_argument("--scheme", default="goemotions", help="Label scheme of the data (as in train).")
    stats.add_argument("--empty_rows", choices=["keep", "drop"], default="keep", help="As in train.")
    stats.add_argument("--on_bad_rows", choices=["error", "skip"], default="error", help="As in train.")
    stats.add_argument("--splits", default=None, help="Comma-separated splits to describe (default: all).")
    stats.add_argument("--tokenizer", required=True, help="Tokenizer folder or Hub id (the model's encoder).")
    stats.add_argument("--max_length", type=int, default=128, help="Training max_length; longer rows are truncated.")
    stats.add_argument("--top_emoji", type=int, default=15, help="How many of the most frequent emoji to describe.")
    stats.add_argument("--output_dir", required=True, help="Folder for report.md, stats.json and the PNGs.")
    stats.add_argument("--overwrite", action="store_true", help="Allow writing into a non-empty folder.")


def data_main(args: argparse.Namespace) -> int:
    return {"stats": data_stats_main}[args.data_command](args)


def load_tokenizer(name_or_path: str):
    """`AutoTokenizer.from_pretrained`, with a missing or incomplete folder reported in one line."""
    from transformers import AutoTokenizer

    folder = Path(name_or_path)
    if folder.exists() and not any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise GoEmoXUsageError(f"{name_or_path}: not a tokenizer folder (no tokenizer.json or tokenizer_config.json)")
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(f"could not load the tokenizer {name_or_path!r}: {' '.join(str(err).split())}") from None


def data_stats_main(args: argparse.Namespace) -> int:
    from .data import load_emotion_dataset
    from .data_stats import dataset_statistics, write_stats_report
    from .labels import get_label_scheme
    from .report import prepare_report_folder

    if args.max_length < 1 or args.top_emoji < 0:
        raise GoEmoXUsageError("--max_length must be at least 1 and --top_emoji 0 or more")
    folder = prepare_report_folder(args.output_dir, args.overwrite)
    scheme = get_label_scheme(args.scheme)
    tokenizer = load_tokenizer(args.tokenizer)
    splits = load_emotion_dataset(
        args.dataset, scheme=scheme, empty_rows=args.empty_rows, on_bad_rows=args.on_bad_rows, **data_load_options(args)
    )
    wanted = [name.strip() for name in args.splits.split(",") if name.strip()] if args.splits else None
    stats = dataset_statistics(
        splits, scheme.labels, tokenizer, max_length=args.max_length, top_emoji=args.top_emoji, split_names=wanted
    )
    stats["options"] = {
        "data": {name: getattr(args, name) for name in ("dataset", "train_file", "validation_file", "test_file")},
        "scheme": scheme.name,
        "tokenizer": args.tokenizer,
        "empty_rows": args.empty_rows,
    }
    path = write_stats_report(
        stats,
        folder,
        [
            f"data: {describe_source(args)}",
            f"label scheme: `{scheme.name}` ({scheme.num_labels} labels), rows without a label: {args.empty_rows}",
            f"tokenizer: `{args.tokenizer}`, max_length {args.max_length}",
        ],
    )
    print(f"Wrote {path}, stats.json and the plots to {folder}")
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
    add_backend_arguments(parser)


def add_backend_arguments(parser) -> None:
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="torch: a saved model folder; onnx: a folder written by `goemox export onnx` (CPU, onnxruntime).",
    )
    parser.add_argument(
        "--precision",
        choices=["fp32", "int8"],
        default="fp32",
        help="ONNX model to run (int8: the --quantize int8 copy, faster, slightly different scores).",
    )


def predict_main(args: argparse.Namespace) -> int:
    from .predict_io import read_inputs, write_predictions

    rows = read_inputs(args.input, args.text_column, args.input_format)
    classifier = load_classifier(args.model, args.max_length, args.batch_size, args.backend, args.precision)
    predictions = classifier.predict(
        [row[args.text_column] for row in rows], ensure_top_label=args.ensure_top_label, show_progress=True
    )
    fmt = args.output_format or ("csv" if args.output.lower().endswith(".csv") else "jsonl")
    write_predictions(rows, predictions, args.output, fmt)
    if args.output != "-":
        print(f"Wrote {len(rows)} predictions to {args.output}", file=sys.stderr)
    return 0


def load_classifier(model: str, max_length: int, batch_size: int, backend: str = "torch", precision: str = "fp32"):
    """Load a model for prediction, turning a missing or invalid folder into a plain message.

    Args:
        model: a saved model folder or Hub id (torch), or a `goemox export onnx` folder (onnx).
        max_length: longest input in tokens.
        batch_size: texts per forward pass.
        backend: `"torch"` or `"onnx"`.
        precision: the ONNX model to run, `"fp32"` or `"int8"` (onnx only).
    """
    from .inference import EmotionClassifier

    if backend == "onnx":
        from .onnx_inference import OnnxEmotionClassifier

        if not Path(model).is_dir():
            raise GoEmoXUsageError(f"{model}: no such folder (the onnx backend reads a `goemox export onnx` folder)")
        return OnnxEmotionClassifier.from_pretrained(
            model, precision=precision, max_length=max_length, batch_size=batch_size
        )
    if precision != "fp32":
        raise GoEmoXUsageError(f"--precision {precision} needs --backend onnx (the torch backend runs fp32)")
    if Path(model).exists() and not (Path(model) / "config.json").is_file():
        raise GoEmoXUsageError(f"{model}: not a saved model folder (no config.json)")
    try:
        return EmotionClassifier.from_pretrained(model, max_length=max_length, batch_size=batch_size)
    except OSError as err:
        raise GoEmoXUsageError(f"could not load the model {model!r}: {err}") from None


ANALYZE_HELP = """Compare a model's predictions across domains: label distributions, collapse onto one label, confidence
and entropy histograms, Jensen-Shannon divergence between domains, and out-of-domain AUROC of the max probability and
of the energy score against the in-domain texts. Writes report.md, analysis.json and PNG plots to --output_dir."""

DOMAIN_HELP = """NAME=SOURCE, given twice or more; the first is in-domain unless --in_domain says otherwise. SOURCE: a
.txt file (one text per line); a .csv/.tsv/.jsonl/.json file (column --text_column, or PATH:COLUMN); or DATASET:SPLIT,
a dataset goemox reads (GoEmotions TSV folder, save_to_disk folder, demo, Hub id) and its split (train, validation/dev,
test; test if left out)."""


def add_analyze_parser(subparsers) -> None:
    parser = subparsers.add_parser("analyze", help="Domain shift analysis of a model.", description=ANALYZE_HELP)
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id (any multi-label classifier).")
    parser.add_argument("--domain", action="append", required=True, metavar="NAME=SOURCE", help=DOMAIN_HELP)
    parser.add_argument("--output_dir", required=True, help="Folder for report.md, analysis.json and the plots.")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="Write into a folder that holds files.")
    parser.add_argument("--in_domain", default=None, help="Name of the in-domain domain (default: the first).")
    parser.add_argument("--text_column", default="text", help="Text column of CSV/TSV/JSONL sources.")
    parser.add_argument(
        "--scheme",
        default=None,
        help="Label scheme to parse dataset sources with (default: the model's, else goemotions).",
    )
    parser.add_argument("--max_texts", type=int, default=None, help="Sample at most N texts per domain (seeded).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the sampling.")
    parser.add_argument(
        "--calibration_split",
        default="validation",
        help="For a dataset in-domain source: the split of the same dataset the OOD cutoff is computed on "
        "(default: validation; 'none' for no cutoff).",
    )
    parser.add_argument(
        "--in_domain_validation",
        default=None,
        metavar="SOURCE",
        help="In-domain validation texts for the OOD cutoff (any SOURCE form); overrides --calibration_split.",
    )
    parser.add_argument(
        "--ood_quantile", type=float, default=0.05, help="Share of validation texts below the cutoff (default 0.05)."
    )
    parser.add_argument(
        "--ood_score",
        choices=["max_probability", "negative_energy"],
        default="max_probability",
        help="The score of the cutoff --store_ood_cutoff writes: the max probability (default) or the negative "
        "energy sum_k softplus(z_k). The report shows both.",
    )
    parser.add_argument(
        "--store_ood_cutoff",
        action="store_true",
        help="Write the cutoff into the model folder's config.json as ood_cutoff (rewritten atomically in place), "
        "or into a copy with --model_copy.",
    )
    parser.add_argument(
        "--model_copy", default=None, metavar="DIR", help="With --store_ood_cutoff: copy the model here first."
    )
    add_bias_options(parser, "--bias_probe")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_length", type=int, default=128)


def add_bias_options(parser, templates_flag: str) -> None:
    """The bias-probe options shared by `analyze --bias_probe` and `bias-probe --templates`."""
    parser.add_argument(
        templates_flag,
        default=None,
        required=templates_flag == "--templates",
        metavar="SOURCE",
        help="Sentences with [NAME]/[RELIGION]/[PERSON] placeholders: 'builtin' (packaged templates), a file, or "
        "DATASET:SPLIT (e.g. the GoEmotions folder with :test).",
    )
    parser.add_argument("--bias_terms", default=None, help="JSON file of identity terms (default: the packaged ones).")
    parser.add_argument("--max_templates", type=int, default=None, help="At most N templates per placeholder.")


def add_bias_probe_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bias-probe",
        help="Swap identity terms into sentences and measure how each label's score moves.",
        description="Bias probe: every template is scored with each identity term in place of its placeholder. "
        "Writes report.md, analysis.json and a PNG per placeholder to --output_dir.",
    )
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id.")
    add_bias_options(parser, "--templates")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite_output_dir", action="store_true")
    parser.add_argument("--text_column", default="text", help="Text column of CSV/TSV/JSONL template files.")
    parser.add_argument("--scheme", default=None, help="Label scheme to parse dataset sources with.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_length", type=int, default=128)


def source_scheme(classifier, scheme: str | None):
    """The scheme dataset sources are parsed with: given, stored with the model, or GoEmotions."""
    from .labels import LabelScheme

    if scheme is not None:
        return scheme
    stored = getattr(classifier.model.config, "label_scheme", None)
    return LabelScheme.from_dict(stored) if stored else "goemotions"


def validation_source(args: argparse.Namespace, in_domain):
    """The in-domain validation source for the OOD cutoff, or None (see `--calibration_split`)."""
    from .domain_shift import parse_text_source

    if args.in_domain_validation:
        return parse_text_source(args.in_domain_validation, args.text_column)
    if args.calibration_split.lower() == "none" or not in_domain.source.is_dataset:
        return None
    return parse_text_source(f"{in_domain.source.path}:{args.calibration_split}")


def bias_probe_section(args, classifier, loader, templates_source: str, report, folder) -> dict:
    """Run the bias probe and add its report section; returns the summaries for analysis.json."""
    from .bias_probe import load_templates, load_terms, run_bias_probe, summarise_probe, write_bias_report

    terms = load_terms(args.bias_terms)
    templates = load_templates(templates_source, loader, args.text_column)
    probes = run_bias_probe(classifier, templates, terms, max_templates=args.max_templates, seed=args.seed)
    summaries = {p.placeholder: summarise_probe(p, classifier.label_names, classifier.thresholds) for p in probes}
    write_bias_report(summaries, templates_source, folder, report)
    return {"templates": templates_source, "placeholders": summaries}


def analyze_main(args: argparse.Namespace) -> int:
    from .domain_shift import (
        TextLoader,
        analyze_domains,
        parse_domain,
        prepare_output_dir,
        save_analysis,
        store_ood_cutoff,
        write_domain_shift_report,
    )
    from .report import MarkdownReport

    if args.model_copy and not args.store_ood_cutoff:
        raise GoEmoXUsageError("--model_copy only applies with --store_ood_cutoff")
    domains = [parse_domain(spec, args.text_column) for spec in args.domain]
    by_name = {domain.name: domain for domain in domains}
    if args.in_domain is not None and args.in_domain not in by_name:
        raise GoEmoXUsageError(f"--in_domain {args.in_domain!r} is not one of the domains {list(by_name)}")
    validation = validation_source(args, by_name.get(args.in_domain, domains[0]))
    if args.store_ood_cutoff and validation is None:
        raise GoEmoXUsageError("--store_ood_cutoff needs in-domain validation texts (--in_domain_validation SOURCE)")
    if args.store_ood_cutoff and not (Path(args.model) / "config.json").is_file():
        raise GoEmoXUsageError(f"--store_ood_cutoff: {args.model} is not a local model folder with a config.json")
    folder = prepare_output_dir(args.output_dir, args.overwrite_output_dir)
    classifier = load_classifier(args.model, args.max_length, args.batch_size)
    loader = TextLoader(source_scheme(classifier, args.scheme))
    result = analyze_domains(
        classifier,
        domains,
        model_name=args.model,
        in_domain=args.in_domain,
        validation=validation,
        ood_quantile=args.ood_quantile,
        ood_score=args.ood_score,
        max_texts=args.max_texts,
        seed=args.seed,
        loader=loader,
    )
    report = MarkdownReport(folder, "Domain shift analysis")
    write_domain_shift_report(result, folder, report)
    if args.bias_probe:
        result.analysis["bias_probe"] = bias_probe_section(args, classifier, loader, args.bias_probe, report, folder)
    if args.store_ood_cutoff:
        config_path = store_ood_cutoff(args.model, result.analysis["ood_cutoff"], args.model_copy)
        result.analysis["ood_cutoff_stored_in"] = str(config_path)
        where = "a copy of the model" if args.model_copy else "the model folder, rewritten in place"
        print(f"Stored ood_cutoff {result.analysis['ood_cutoff']['cutoff']:.4f} in {config_path} ({where})")
    save_analysis(result.analysis, folder)
    report.save()
    print_domain_summary(result.analysis)
    print(f"Wrote report.md, analysis.json and plots to {folder}")
    return 0


def print_domain_summary(analysis: dict) -> None:
    print(f"\n{'domain':<16}{'texts':>7}{'collapse':>10}{'neutral':>9}{'max prob':>10}{'AUROC mp':>10}{'AUROC E':>9}")
    for name, d in analysis["domains"].items():
        values = [d["collapse_rate"], d["neutral_share"], d["mean_max_probability"]]
        values += [d["ood_auroc_max_probability"], d["ood_auroc_energy"]]
        cells = "".join(f"{v:>{w}.3f}" if v is not None else f"{'-':>{w}}" for v, w in zip(values, (10, 9, 10, 10, 9)))
        print(f"{name:<16}{d['n_texts']:>7}{cells}")
    cutoff = analysis["ood_cutoff"]
    if cutoff:
        print(f"OOD cutoff ({cutoff['score']}): {cutoff['cutoff']:.4f} from {cutoff['validation_source']}")


def bias_probe_main(args: argparse.Namespace) -> int:
    from .domain_shift import TextLoader, prepare_output_dir, save_analysis
    from .report import MarkdownReport

    folder = prepare_output_dir(args.output_dir, args.overwrite_output_dir)
    classifier = load_classifier(args.model, args.max_length, args.batch_size)
    loader = TextLoader(source_scheme(classifier, args.scheme))
    report = MarkdownReport(folder, "Bias probe")
    report.text(f"Model `{args.model}` ({len(classifier.label_names)} labels).")
    probe = bias_probe_section(args, classifier, loader, args.templates, report, folder)
    save_analysis({"model": args.model, "label_names": classifier.label_names, "bias_probe": probe}, folder)
    report.save()
    print(f"Wrote report.md, analysis.json and plots to {folder}")
    return 0


def add_card_options(parser: argparse.ArgumentParser) -> None:
    """Model-card metadata the run folder cannot know."""
    group = parser.add_argument_group("model card")
    group.add_argument("--license", default="apache-2.0", help="License identifier for the card (default apache-2.0).")
    group.add_argument("--base_model", default=None, help="Hub id of the encoder, if the run loaded a local path.")
    group.add_argument("--dataset_id", default=None, help="Hub id of the training data, if the run read local files.")
    group.add_argument("--analysis", default=None, help="A `goemox analyze` folder: its out-of-domain numbers.")


def card_options(args: argparse.Namespace, repo_id: str | None):
    from .model_card import ModelCardOptions

    return ModelCardOptions(
        repo_id=repo_id,
        license=args.license,
        base_model=args.base_model,
        dataset_id=args.dataset_id,
        analysis_dir=args.analysis,
    )


def add_push_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="Publish a trained model to the Hub (one commit; native class when possible).",
        description="Publish a trained model folder to a Hub model repository in a single commit. The token comes "
        "from huggingface_hub (HF_TOKEN or `hf auth login`) and is never printed.",
    )
    parser.add_argument("model", help="Trained goemox model folder.")
    parser.add_argument("repo_id", help="user/name or org/name.")
    parser.add_argument("--private", action="store_true", help="Create the repository as private.")
    parser.add_argument("--revision", default=None, help="Branch to commit to (created if missing).")
    parser.add_argument("--commit_message", default=None)
    parser.add_argument(
        "--no_native", action="store_true", help="Publish goemox's architecture (remote code) even if native works."
    )
    add_card_options(parser)


def push_main(args: argparse.Namespace) -> int:
    from .hub import push_to_hub

    url = push_to_hub(
        args.model,
        args.repo_id,
        private=args.private or None,
        revision=args.revision,
        commit_message=args.commit_message,
        native=not args.no_native,
        card_options=card_options(args, args.repo_id),
    )
    print(f"Published {args.model} to {args.repo_id}: {url}")
    return 0


def add_export_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="Export a trained model (the Hub folder, ONNX).")
    formats = parser.add_subparsers(dest="format", required=True)
    hub = formats.add_parser("hub", help="Write the exact folder `goemox push` would upload, without uploading.")
    hub.add_argument("model", help="Trained goemox model folder.")
    hub.add_argument("output", help="Folder to write (must not hold files unless --overwrite).")
    hub.add_argument("--repo_id", default=None, help="Repository id shown in the card's usage snippets.")
    hub.add_argument("--no_native", action="store_true", help="Keep goemox's architecture (remote code).")
    hub.add_argument("--overwrite", action="store_true", help="Replace the output folder's contents.")
    add_card_options(hub)
    onnx = formats.add_parser(
        "onnx",
        help="ONNX for CPU inference with onnxruntime (`goemox predict --backend onnx`).",
        description="Export MODEL_DIR to ONNX in OUT_DIR (with config.json and the tokenizer), checked against "
        "PyTorch on goemox's demo sentences; fails if fp32 probabilities differ by more than 1e-4.",
    )
    onnx.add_argument("model_dir", metavar="MODEL_DIR", help="A saved model folder (goemox, BERT, RoBERTa, ...).")
    onnx.add_argument("out_dir", metavar="OUT_DIR", help="The folder to write.")
    onnx.add_argument("--quantize", choices=["int8"], default=None, help="Also write a dynamically quantized copy.")
    onnx.add_argument("--overwrite", action="store_true", help="Replace the export files in a non-empty OUT_DIR.")


def export_main(args: argparse.Namespace) -> int:
    return {"hub": export_hub_main, "onnx": export_onnx_main}[args.format](args)


def export_onnx_main(args: argparse.Namespace) -> int:
    from .exporters.onnx import export_onnx

    record = export_onnx(args.model_dir, args.out_dir, quantize=args.quantize, overwrite=args.overwrite)
    parity = record["parity"]
    print(f"Wrote {', '.join(record['files'].values())}, config.json and the tokenizer to {args.out_dir}")
    print(f"Checked against PyTorch on {parity['texts']} texts (inputs: {', '.join(record['inputs'])}):")
    for precision in record["files"]:
        check = parity[precision]
        print(
            f"  {precision}: max |probability difference| {check['max_abs_probability_difference']:.2e}, "
            f"same labels for {check['label_agreement']:.1%} of texts"
        )
    print(f"Predict with: goemox predict --backend onnx --model {args.out_dir} --input texts.txt")
    return 0


def export_hub_main(args: argparse.Namespace) -> int:
    from .hub import build_hub_folder

    folder = build_hub_folder(
        args.model,
        args.output,
        native=not args.no_native,
        card_options=card_options(args, args.repo_id),
        overwrite=args.overwrite,
    )
    kind = "native transformers class" if folder.native else f"goemox remote code ({folder.native_blocker})"
    print(f"Wrote {len(folder.files)} files to {folder.path}: {folder.architecture}, {kind}")
    print(f"Reloaded and checked: max probability difference {folder.max_abs_difference:.1e}")
    return 0


def add_card_parser(subparsers) -> None:
    parser = subparsers.add_parser("card", help="Render a trained run's model card (README.md).")
    parser.add_argument("model", help="Trained goemox model folder.")
    parser.add_argument("--output", default=None, help="Where to write (default: MODEL/README.md).")
    parser.add_argument("--repo_id", default=None, help="Repository id shown in the usage snippets.")
    add_card_options(parser)


def card_main(args: argparse.Namespace) -> int:
    from .model_card import render_model_card

    output = Path(args.output or Path(args.model) / "README.md")
    render_model_card(args.model, options=card_options(args, args.repo_id)).save(output)
    print(f"Wrote {output}")
    return 0


def add_fetch_parser(subparsers) -> None:
    from .fetch import GITHUB_STATES, HN_LISTS, OUTPUT_FORMATS

    parser = subparsers.add_parser("fetch", help="Download out-of-domain text (Hacker News, GitHub issues).")
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output", required=True, help="JSONL or CSV file to write (a `text` column + metadata).")
    common.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="Default: csv for *.csv, else jsonl.")
    common.add_argument("--limit", type=int, default=1000, help="Most texts to write (default 1000; 0: no limit).")
    common.add_argument("--titles_only", action="store_true", help="Use only titles as texts (not the bodies).")
    common.add_argument("--overwrite", action="store_true", help="Replace an existing output file.")
    common.add_argument("--cache_dir", default=None, help="Where fetched items/pages are kept (default OUTPUT.cache).")
    common.add_argument("--refresh", action="store_true", help="Fetch the story list / issue pages again.")
    common.add_argument("--api_url", default=None, help="API base URL (tests, mirrors, GitHub Enterprise).")
    common.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait for a connection or data.")
    common.add_argument("--max_retries", type=int, default=5, help="Retries per request (errors, 5xx, limits).")
    common.add_argument(
        "--max_wait", type=float, default=300.0, help="Longest rate-limit wait in seconds; longer ones stop the run."
    )
    common.add_argument("--no_progress", action="store_true", help="Hide the progress bar.")
    hn = sources.add_parser("hackernews", parents=[common], help="Stories from the Hacker News API.")
    hn.add_argument("--list", dest="story_list", choices=HN_LISTS, default="top", help="Which story list.")
    hn.add_argument("--workers", type=int, default=8, help="Items fetched in parallel (default 8).")
    github = sources.add_parser(
        "github-issues", parents=[common], help="Issues of a GitHub repository (token from $GITHUB_TOKEN/$GH_TOKEN)."
    )
    github.add_argument("repo", metavar="OWNER/REPO", help="e.g. huggingface/transformers")
    github.add_argument("--state", choices=GITHUB_STATES, default="all", help="Issue state (default all).")
    github.add_argument("--include_pulls", action="store_true", help="Keep pull requests too.")


def fetch_main(args: argparse.Namespace) -> int:
    import logging

    from tqdm.contrib.logging import logging_redirect_tqdm

    from .fetch import FetchCache, check_output, output_format, resumable, write_rows
    from .http_client import RetryPolicy

    if args.limit < 0:
        raise GoEmoXUsageError(f"--limit must be 0 (no limit) or more, got {args.limit}")
    fmt = output_format(args.output, args.format)
    output = check_output(args.output, args.overwrite)
    cache = FetchCache(Path(args.cache_dir) if args.cache_dir else output.with_name(output.name + ".cache"))
    policy = RetryPolicy(timeout=args.timeout, max_retries=args.max_retries, max_wait=args.max_wait)
    fetch_source = fetch_hackernews_rows if args.source == "hackernews" else fetch_github_rows
    logging.basicConfig(format="goemox fetch: %(message)s")
    try:
        with logging_redirect_tqdm(), resumable(cache):  # retry messages go above the progress bar
            rows, columns, what, requests = fetch_source(args, cache, policy)
    except KeyboardInterrupt:
        print(f"\ngoemox: interrupted; what was fetched is kept in {cache.root}/: run the same command again to "
              "continue from there", file=sys.stderr)  # fmt: skip
        return 130
    if not rows:
        raise GoEmoXUsageError(f"no texts found among the {what}; nothing written to {args.output}")
    write_rows(rows, output, fmt, columns, overwrite=args.overwrite)
    print(f"Wrote {len(rows)} {what} to {args.output} ({requests} requests; cache: {cache.root}/)")
    return 0


def fetch_hackernews_rows(args: argparse.Namespace, cache, policy):
    """`goemox fetch hackernews`: rows, their columns, what they are, and the number of HTTP requests sent."""
    from .fetch import DEFAULT_HN_API, HN_API_ENV, HN_COLUMNS, api_url, fetch_hackernews
    from .http_client import JsonClient

    client = JsonClient({"User-Agent": "goemox", "Accept": "application/json"}, policy)
    rows = fetch_hackernews(
        client,
        cache,
        api_url(args.api_url, HN_API_ENV, DEFAULT_HN_API),
        story_list=args.story_list,
        limit=args.limit or None,
        titles_only=args.titles_only,
        workers=args.workers,
        refresh=args.refresh,
        show_progress=not args.no_progress,
    )
    return rows, HN_COLUMNS, f"Hacker News {args.story_list} stories", client.requests_sent


def fetch_github_rows(args: argparse.Namespace, cache, policy):
    """`goemox fetch github-issues`: rows, their columns, what they are, and the number of HTTP requests sent."""
    from .fetch import (
        DEFAULT_GITHUB_API,
        GITHUB_API_ENV,
        GITHUB_COLUMNS,
        api_url,
        fetch_github_issues,
        github_headers,
        github_token,
    )
    from .http_client import JsonClient

    token, variable = github_token()
    client = JsonClient(github_headers(token), policy)
    rows = fetch_github_issues(
        client,
        cache,
        args.repo,
        api_url(args.api_url, GITHUB_API_ENV, DEFAULT_GITHUB_API),
        state=args.state,
        limit=args.limit or None,
        include_pulls=args.include_pulls,
        titles_only=args.titles_only,
        refresh=args.refresh,
        token_source=f"${variable}" if variable else None,
        show_progress=not args.no_progress,
    )
    return rows, GITHUB_COLUMNS, f"{args.repo} issues ({args.state})", client.requests_sent


def add_demo_parser(subparsers) -> None:
    from .demo_logic import DEFAULT_MAX_LENGTH, DEFAULT_MAX_ROWS, positive_int

    parser = subparsers.add_parser("demo", help="Start the web demo (Streamlit) for a model.")
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to serve on (default: 127.0.0.1).")
    parser.add_argument("--port", type=positive_int, default=8501, help="Port to serve on (default: 8501).")
    parser.add_argument(
        "--max_rows", type=positive_int, default=DEFAULT_MAX_ROWS, help="Most rows an uploaded file may have."
    )
    parser.add_argument("--max_length", type=positive_int, default=DEFAULT_MAX_LENGTH, help="Longest input in tokens.")


def demo_command(args: argparse.Namespace) -> list[str]:
    """The `streamlit run` command line that serves `goemox/demo_app.py` with the options of `goemox demo`."""
    from .demo_logic import DemoSettings

    settings = DemoSettings(model=args.model, max_rows=args.max_rows, max_length=args.max_length)
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(Path(__file__).with_name("demo_app.py")),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        *settings.script_args(),
    ]


def demo_main(args: argparse.Namespace) -> NoReturn:
    """Serve the demo until stopped: this process becomes the Streamlit server, so a signal reaches it directly."""
    if importlib.util.find_spec("streamlit") is None:
        raise GoEmoXUsageError("the demo needs Streamlit: pip install 'goemox[demo]'")
    print(f"goemox demo: serving {args.model} on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    sys.stderr.flush()
    command = demo_command(args)
    os.execv(command[0], command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="goemox", description="Multi-label emotion classification.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    subparsers.add_parser("train", help="Fine-tune a model (see `goemox train --help`).", add_help=False)
    subparsers.add_parser("search", help="Optuna hyperparameter search (see `goemox search --help`).", add_help=False)
    add_evaluate_parser(subparsers)
    add_predict_parser(subparsers)
    add_push_parser(subparsers)
    add_export_parser(subparsers)
    add_card_parser(subparsers)
    add_fetch_parser(subparsers)
    add_demo_parser(subparsers)
    add_data_parser(subparsers)
    add_calibrate_parser(subparsers)
    add_analyze_parser(subparsers)
    add_bias_probe_parser(subparsers)
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
        commands = {
            "evaluate": evaluate_main,
            "predict": predict_main,
            "push": push_main,
            "export": export_main,
            "card": card_main,
            "fetch": fetch_main,
            "demo": demo_main,
            "data": data_main,
            "calibrate": calibrate_main,
            "analyze": analyze_main,
            "bias-probe": bias_probe_main,
        }
        return commands[args.command](args)
    except GoEmoXError as err:
        print(f"goemox: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
