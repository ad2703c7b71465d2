"""`goemox evaluate`: score a saved model on a labelled split, optionally with an error analysis report; with
`--single_label`, score it in the data's own labels (`--label_map`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from goemox.cli.options import (
    BackendArguments,
    SavedModelArguments,
    check_at_least,
    label_map_field,
    overwrite_field,
)
from goemox.cli.parsing import Command, by_name
from goemox.data.arguments import DataSourceArguments
from goemox.errors import GoEmoXUsageError

SINGLE_LABEL_HELP = """Score the rows with exactly one label in the data's own labels: each data label's score is the
highest probability of the model labels it gathers (--label_map), the prediction is the data label with the highest
score. Prints accuracy, macro-F1, the majority baseline (always answering the most frequent label) and F1 per label;
--report_dir gets report.md, analysis.json and a confusion heatmap instead of the multi-label error analysis."""


@dataclass
class EvaluateArguments:
    """What `goemox evaluate` scores and writes.

    Args:
        split: the split to score.
        output: a JSON file for the metrics.
        report_dir: a folder for the error analysis (report.md, PNGs, analysis.json, errors.csv).
        errors_per_class: the most confident false positives and negatives listed per class.
        overwrite: allow `report_dir` to hold files, and `output` to exist.
        single_label: score in the data's own labels (single-label rows, argmax) instead of the model's.
        label_map: with `single_label`, how the data's labels are read from the model's.
    """

    split: str = field(default="test", metadata={"help": "Split to score (default: test)."})
    output: str | None = field(default=None, metadata={"help": "Write the metrics as JSON to this file."})
    report_dir: str | None = field(
        default=None,
        metadata={
            "help": "Also write an error analysis here: report.md, PNGs, analysis.json and errors.csv.",
            "aliases": ["--report"],
        },
    )
    errors_per_class: int = field(
        default=5,
        metadata={"help": "Most confident false positives and negatives per class (multi-label error analysis)."},
    )
    overwrite: bool = overwrite_field("--output and --report_dir")
    single_label: bool = field(default=False, metadata={"help": SINGLE_LABEL_HELP})
    label_map: str | None = label_map_field()

    def __post_init__(self) -> None:
        check_at_least("errors_per_class", self.errors_per_class, 0)
        if self.label_map and not self.single_label:
            raise GoEmoXUsageError(
                "--label_map needs --single_label: scoring in the data's own labels is single-label (argmax)"
            )


def run_evaluate(
    model: SavedModelArguments, backend: BackendArguments, data: DataSourceArguments, options: EvaluateArguments
) -> int:
    from goemox.evaluation.scoring import format_metrics_table, score_split, split_metrics
    from goemox.file_io import check_output_file, prepare_output_folder, write_json_atomically

    if options.single_label and data.scheme is not None:
        raise GoEmoXUsageError(
            "--scheme does not apply with --single_label: the data is read in its own labels (see --label_map)"
        )
    inputs = [model.model, *data.split_files().values(), data.dataset, options.label_map]
    if options.output:
        check_output_file(options.output, options.overwrite, inputs=inputs, stdout=False)
    report_folder = (
        prepare_output_folder(options.report_dir, options.overwrite, inputs, "--report_dir")
        if options.report_dir
        else None
    )
    classifier = model.load(backend)
    if options.single_label:
        return evaluate_single_label(classifier, model, data, options, report_folder)
    scored = score_split(classifier, split=options.split, scheme=data.scheme, **data.load_options())
    result = {**split_metrics(classifier, scored), "long_text": classifier.long_text_report.to_dict()}
    print(f"{result['split']}: {result['rows']} rows, {classifier.thresholds_origin}\n")
    print(format_metrics_table(result["stored_thresholds"]))
    print_long_texts(classifier)
    if options.output:
        write_json_atomically(options.output, result)
        print(f"\nWrote {options.output}")
    if report_folder is not None:
        from goemox.evaluation.error_report import write_error_report

        path = write_error_report(
            scored,
            classifier.label_names,
            classifier.thresholds,
            report_folder,
            errors_per_class=options.errors_per_class,
            description=[f"model: `{model.model}`", f"data: {data.source_name()}, split `{options.split}`"],
        )
        print(f"Wrote the error analysis to {path}")
    return 0


def print_long_texts(classifier) -> None:
    """Say, after the scores, how many texts were longer than `--max_length` and what was done with them."""
    if classifier.long_text_report.long_texts:
        print(f"Note: {classifier.long_text_report.describe()}")


def evaluate_single_label(classifier, model: SavedModelArguments, data: DataSourceArguments, options, folder) -> int:
    """`goemox evaluate --single_label`: score in the data's labels, print, and write `--output` / `--report_dir`."""
    from goemox.evaluation.label_bridge import format_single_label_table, score_in_data_labels, single_label_scores
    from goemox.evaluation.label_bridge_report import write_single_label_section
    from goemox.file_io import write_json_atomically
    from goemox.reporting.markdown import MarkdownReport

    scored, label_map = score_in_data_labels(
        classifier, split=options.split, label_map=options.label_map, **data.load_options()
    )
    scores = single_label_scores(scored.y_true, scored.probs, label_map.data_labels)
    print(
        f"{options.split}: {scores['rows']} rows, {scores['rows_scored']} with exactly one label, scored in "
        f"{len(label_map.groups)} data labels ({label_map.source})\n"
    )
    print(format_single_label_table(scores, label_map))
    print_long_texts(classifier)
    result = {
        "model": model.model,
        "data": data.source_name(),
        "split": options.split,
        "label_map": label_map.to_dict(),
        "single_label": scores,
        "long_text": classifier.long_text_report.to_dict(),
    }
    if options.output:
        write_json_atomically(options.output, result)
        print(f"\nWrote {options.output}")
    if folder is not None:
        report = MarkdownReport(folder, f"Single-label evaluation: {options.split} split")
        report.bullets([f"model: `{model.model}`", f"data: {data.source_name()}, split `{options.split}`"])
        report.text("Numbers: `analysis.json`.")
        image = folder / "confusion_single_label.png"
        write_single_label_section(report, scores, label_map, image, title="Scores in the data's labels")
        write_json_atomically(folder / "analysis.json", result)
        print(f"Wrote the report to {report.save()}")
    return 0


COMMANDS = by_name(
    Command(
        "evaluate",
        (SavedModelArguments, BackendArguments, DataSourceArguments, EvaluateArguments),
        run_evaluate,
    )
)
