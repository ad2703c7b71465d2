"""The `goemox` command line: `train`, `search`, `evaluate`, `predict`, `analyze`, `bias-probe`."""

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


def add_evaluate_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="Score a saved model on a labelled split.")
    parser.add_argument("--model", required=True, help="Saved model folder or Hub id.")
    parser.add_argument("--dataset", default=None, help="Same sources as `goemox train --dataset`.")
    (
        parser.add_argument("--train_file"),
        parser.add_argument("--validation_file"),
        parser.add_argument("--test_file"),
    )
    parser.add_argument("--dataset_config", default="simplified")
    parser.add_argument("--split", default="test", help="Split to score (default: test).")
    parser.add_argument("--scheme", default=None, help="Label scheme of the data (default: stored with the model).")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--label_column", default="labels")
    parser.add_argument("--label_separator", default=",")
    parser.add_argument("--split_seed", type=int, default=42, help="Seed of an automatic split (as in train).")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--output", default=None, help="Write the metrics as JSON here.")


def evaluate_main(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_model, format_metrics_table

    classifier = load_classifier(args.model, args.max_length, args.batch_size)
    result = evaluate_model(
        classifier,
        args.dataset,
        split=args.split,
        scheme=args.scheme,
        train_file=args.train_file,
        validation_file=args.validation_file,
        test_file=args.test_file,
        dataset_config=args.dataset_config,
        text_column=args.text_column,
        label_column=args.label_column,
        label_separator=args.label_separator,
        seed=args.split_seed,
    )
    print(f"{result['split']}: {result['rows']} rows, stored thresholds\n")
    print(format_metrics_table(result["stored_thresholds"]))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
        print(f"\nWrote {args.output}")
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
            "analyze": analyze_main,
            "bias-probe": bias_probe_main,
        }
        return commands[args.command](args)
    except GoEmoXError as err:
        print(f"goemox: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
