"""`goemox predict`: label the texts of a file or standard input."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from goemox.cli.options import BackendArguments, SavedModelArguments, overwrite_field
from goemox.cli.parsing import Command
from goemox.data.text_files import INPUT_FORMATS
from goemox.inference.io import OUTPUT_FORMATS


@dataclass
class PredictArguments:
    """What `goemox predict` reads and writes.

    Args:
        input: a TXT (one text per line), CSV/TSV (header row) or JSONL file; `-` for standard input.
        input_format: the input's format (default: from its extension; standard input is TXT).
        text_column: the column holding the text (CSV/TSV/JSONL).
        output: the file to write; `-` for standard output.
        output_format: `jsonl` or `csv` (default: from the output's extension, else jsonl).
        ensure_top_label: give every text at least its most probable label.
        prediction_prefix: put before the name of every column predict adds (`labels`, `scores`, `unfamiliar`,
            `score_<label>`); an input column of one of those names is refused unless a prefix such as `pred_`
            keeps the two apart.
        overwrite: allow replacing an existing output file.
    """

    input: str = field(default="-", metadata={"help": "TXT (one text per line), CSV/TSV or JSONL file; - for stdin."})
    input_format: str | None = field(default=None, metadata={"choices": list(INPUT_FORMATS)})
    text_column: str = field(default="text", metadata={"help": "Column with the text (CSV/TSV/JSONL)."})
    output: str = field(default="-", metadata={"help": "Output file; - for stdout."})
    output_format: str | None = field(
        default=None,
        metadata={"help": "Default: from the output extension, else jsonl.", "choices": list(OUTPUT_FORMATS)},
    )
    ensure_top_label: bool = field(
        default=False, metadata={"help": "Give every text at least its most probable label."}
    )
    prediction_prefix: str = field(
        default="",
        metadata={
            "help": "Put before every column predict adds (labels, scores, unfamiliar, score_<label>), e.g. pred_ to "
            "keep an input column of the same name; without one, such an input column is an error."
        },
    )
    overwrite: bool = overwrite_field("--output")

    def resolved_output_format(self) -> str:
        """The output format: given, or `csv` for a `.csv` output, else `jsonl`."""
        return self.output_format or ("csv" if self.output.lower().endswith(".csv") else "jsonl")


def run_predict(model: SavedModelArguments, backend: BackendArguments, options: PredictArguments) -> int:
    from goemox.data.text_files import read_inputs
    from goemox.inference.io import check_prediction_columns, write_predictions
    from goemox.reporting.files import check_output_file

    logging.basicConfig(format="goemox predict: %(message)s")
    for name in ("goemox.inference", "goemox.data"):
        logging.getLogger(name).setLevel(logging.INFO)
    check_output_file(options.output, options.overwrite, inputs=[options.input, model.model])
    rows = read_inputs(options.input, options.text_column, options.input_format)
    classifier = model.load(backend)
    name = "<stdin>" if options.input == "-" else options.input
    check_prediction_columns(rows, classifier.label_names, options.prediction_prefix, name)
    predictions = classifier.predict(
        [row[options.text_column] for row in rows], ensure_top_label=options.ensure_top_label, show_progress=True
    )
    write_predictions(
        rows, predictions, options.output, options.resolved_output_format(), prefix=options.prediction_prefix
    )
    if options.output != "-":
        print(f"Wrote {len(rows)} predictions to {options.output}", file=sys.stderr)
    return 0


COMMANDS = {
    "predict": Command(
        "predict",
        "Label texts from a file or standard input.",
        (SavedModelArguments, BackendArguments, PredictArguments),
        run_predict,
    )
}
