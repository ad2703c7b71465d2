"""`goemox evaluate`: score a saved model on a labelled split, optionally with an error analysis report."""

from __future__ import annotations

from dataclasses import dataclass, field

from goemox.cli.options import BackendArguments, SavedModelArguments, check_at_least, overwrite_field
from goemox.cli.parsing import Command
from goemox.data.arguments import DataSourceArguments


@dataclass
class EvaluateArguments:
    """What `goemox evaluate` scores and writes.

    Args:
        split: the split to score.
        output: a JSON file for the metrics.
        report_dir: a folder for the error analysis (report.md, PNGs, analysis.json, errors.csv).
        errors_per_class: the most confident false positives and negatives listed per class.
        overwrite: allow `report_dir` to hold files, and `output` to exist.
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
        default=5, metadata={"help": "Most confident false positives and negatives per class."}
    )
    overwrite: bool = overwrite_field("--output and --report_dir")

    def __post_init__(self) -> None:
        check_at_least("errors_per_class", self.errors_per_class, 0)


def run_evaluate(
    model: SavedModelArguments, backend: BackendArguments, data: DataSourceArguments, options: EvaluateArguments
) -> int:
    from goemox.evaluation.scoring import format_metrics_table, score_split, split_metrics
    from goemox.reporting.files import check_output_file, prepare_output_folder, write_json_atomically

    inputs = [model.model, *data.split_files().values(), data.dataset]
    if options.output:
        check_output_file(options.output, options.overwrite, inputs=inputs)
    report_folder = (
        prepare_output_folder(options.report_dir, options.overwrite, inputs, "--report_dir")
        if options.report_dir
        else None
    )
    classifier = model.load(backend)
    scored = score_split(classifier, split=options.split, scheme=data.scheme, **data.load_options())
    result = split_metrics(classifier, scored)
    print(f"{result['split']}: {result['rows']} rows, {classifier.thresholds_origin}\n")
    print(format_metrics_table(result["stored_thresholds"]))
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


COMMANDS = {
    "evaluate": Command(
        "evaluate",
        "Score a saved model on a labelled split.",
        (SavedModelArguments, BackendArguments, DataSourceArguments, EvaluateArguments),
        run_evaluate,
    )
}
