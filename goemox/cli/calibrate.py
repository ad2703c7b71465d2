"""`goemox calibrate`: calibration of a saved model's scores (temperature or Platt scaling), folded into its output
layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from goemox.calibration.logit_map import CALIBRATION_METHODS
from goemox.cli.options import SavedModelArguments, check_at_least, overwrite_field
from goemox.cli.parsing import Command, by_name
from goemox.data.arguments import DataSourceArguments
from goemox.evaluation.metrics import THRESHOLD_STRATEGIES
from goemox.inference.predictor import LongText

CALIBRATE_HELP = """Fit a calibration on validation data (a temperature, one per label, or per-label Platt scaling
sigmoid(a * logit + b), each minimising the binary cross-entropy), fold it into the model's output layer, re-tune the
thresholds (and a stored OOD cutoff) and save the calibrated model; writes report.md with reliability diagrams and
expected calibration error (ECE) before and after. `goemox train` does this by default (--calibration)."""


@dataclass
class CalibrateArguments:
    """What `goemox calibrate` fits and where the calibrated model goes.

    Args:
        split: the split the calibration and the thresholds are fitted on.
        test_split: a split scored once, before and after.
        method: `temperature`, `per_label_temperature` or `platt`.
        output_dir: a new folder for the calibrated model.
        in_place: replace the model folder's files instead (all or nothing).
        overwrite: allow `output_dir` / `report_dir` to hold files.
        report_dir: the report folder (default: OUTPUT/calibration).
        threshold_strategy: how thresholds are re-tuned (default: as in the model's training run).
        bins: equal-width probability bins of the ECE.
    """

    split: str = field(default="validation", metadata={"help": "Split to fit on (default: validation)."})
    test_split: str | None = field(
        default=None, metadata={"help": "Also score this split once, before and after (e.g. test)."}
    )
    method: str = field(
        default="platt",
        metadata={
            "help": "temperature (one T), per_label_temperature (one T per label) or platt (per-label "
            "sigmoid(a * logit + b); default, the lowest validation ECE on the project's data).",
            "choices": list(CALIBRATION_METHODS[1:]),
        },
    )
    output_dir: str | None = field(default=None, metadata={"help": "New folder for the calibrated model."})
    in_place: bool = field(default=False, metadata={"help": "Replace the model folder's files instead."})
    overwrite: bool = overwrite_field("--output_dir and --report_dir")
    report_dir: str | None = field(default=None, metadata={"help": "Report folder (default: OUTPUT/calibration)."})
    threshold_strategy: str | None = field(
        default=None,
        metadata={
            "help": "How thresholds are re-tuned (default: as in the model's training run, else per_class).",
            "choices": list(THRESHOLD_STRATEGIES),
        },
    )
    bins: int = field(default=15, metadata={"help": "Equal-width probability bins of the ECE."})

    def __post_init__(self) -> None:
        check_at_least("bins", self.bins, 1)


def run_calibrate(model: SavedModelArguments, data: DataSourceArguments, options: CalibrateArguments) -> int:
    from goemox.calibration.job import CalibrationRequest, calibrate

    request = CalibrationRequest(
        model=model.model,
        output_dir=options.output_dir,
        in_place=options.in_place,
        overwrite=options.overwrite,
        method=options.method,
        split=options.split,
        test_split=options.test_split,
        report_dir=options.report_dir,
        threshold_strategy=options.threshold_strategy,
        bins=options.bins,
        scheme=data.scheme,
        max_length=model.max_length,
        batch_size=model.batch_size,
        long_text=LongText.of(model),
        data=data.load_options(),
    )
    result = calibrate(request)
    from goemox.calibration.logit_map import LogitMap

    print(f"\n{LogitMap.from_dict(result['calibration']).describe()} (fitted on {result['fit_split']})")
    print(f"{'':<18}{'ECE mean/label':>16}{'ECE pooled':>12}{'NLL':>9}{'macro-F1':>10}")
    for split, scores in result["splits"].items():
        for state in ("before", "after"):
            values = scores[state]
            print(
                f"{split + ', ' + state:<18}{values['ece']['class_mean']:>16.4f}{values['ece']['pooled']:>12.4f}"
                f"{values['nll']:>9.4f}{values['metrics']['macro_f1']:>10.4f}"
            )
    print(
        f"(calibration error after on {result['fit_split']}: cross-fitted, each of "
        f"{result['support_rules']['cross_fit_folds']} folds scored by the map fitted on the others)"
    )
    print(f"Validation support: {result['support_rules']['summary']}")
    for note in result["notes"]:
        print(f"Note: {note}")
    print(f"Saved the calibrated model to {result['output']} and the report to {result['report']}")
    return 0


COMMANDS = by_name(
    Command(
        "calibrate",
        (SavedModelArguments, DataSourceArguments, CalibrateArguments),
        run_calibrate,
        description=CALIBRATE_HELP,
    )
)
