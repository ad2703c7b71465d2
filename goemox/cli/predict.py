"""`goemox predict`: label the texts of a file or standard input."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from goemox.cli.options import BackendArguments, SavedModelArguments, check_at_least, overwrite_field
from goemox.cli.parsing import Command, by_name
from goemox.data.text_files import INPUT_FORMATS
from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.inference.attribution import DEFAULT_STEPS
from goemox.inference.io import OUTPUT_FORMATS
from goemox.inference.sharding import DEFAULT_CHUNK_ROWS


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
        chunk_rows: predict the input in chunks of this many rows, each kept in `OUTPUT.shards/` once done, so that
            a killed run resumes where it stopped and several processes (`accelerate launch scripts/predict.py`)
            share the work; the input is streamed, never held whole. Default: the whole input at once, or
            `DEFAULT_CHUNK_ROWS` (10,000) rows per chunk when several processes run.
        explain: add an `explanation` column: for each predicted label, the words that pushed it most (integrated
            gradients; the torch backend only, and each text costs `explain_steps` forward and backward passes per
            label).
        explain_top: words kept per label.
        explain_steps: points of the integrated-gradients integral.
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
    chunk_rows: int | None = field(
        default=None,
        metadata={
            "help": "Predict in chunks of this many rows, each kept in OUTPUT.shards/ once done: a killed run resumes "
            "where it stopped, several processes (accelerate launch scripts/predict.py) share the chunks, and the "
            f"input is streamed. Default: all at once, or {DEFAULT_CHUNK_ROWS} rows per chunk under several processes."
        },
    )

    explain: bool = field(
        default=False,
        metadata={
            "help": "Add an explanation column: the words that pushed each predicted label most (integrated "
            "gradients; torch backend; about explain_steps forward+backward passes per text and label)."
        },
    )
    explain_top: int = field(default=5, metadata={"help": "With --explain: words kept per label."})
    explain_steps: int = field(
        default=DEFAULT_STEPS, metadata={"help": "With --explain: points of the integrated-gradients integral."}
    )

    def __post_init__(self) -> None:
        if self.chunk_rows is not None:
            check_at_least("chunk_rows", self.chunk_rows, 1)
        check_at_least("explain_top", self.explain_top, 1)
        check_at_least("explain_steps", self.explain_steps, 1)

    def resolved_output_format(self) -> str:
        """The output format: given, or `csv` for a `.csv` output, else `jsonl`."""
        return self.output_format or ("csv" if self.output.lower().endswith(".csv") else "jsonl")


def run_predict(model: SavedModelArguments, backend: BackendArguments, options: PredictArguments) -> int:
    from goemox.data.text_files import read_inputs
    from goemox.file_io import check_output_file
    from goemox.inference.io import check_prediction_columns, write_predictions

    logging.basicConfig(format="goemox predict: %(message)s")
    for name in ("goemox.inference", "goemox.data"):
        logging.getLogger(name).setLevel(logging.INFO)
    check_output_file(options.output, options.overwrite, inputs=[options.input, model.model])
    if options.explain and backend.backend != "torch":
        raise GoEmoXUsageError(
            f"--explain needs --backend torch: integrated gradients need the network's gradients, which the "
            f"{backend.backend} backend does not give; explain with the PyTorch model folder the export was made from"
        )
    if options.chunk_rows is not None or several_processes():
        return predict_in_chunks(model, backend, options)
    rows = read_inputs(options.input, options.text_column, options.input_format)
    classifier = model.load(backend)
    name = "<stdin>" if options.input == "-" else options.input
    check_prediction_columns(rows, classifier.label_names, options.prediction_prefix, name)
    texts = [row[options.text_column] for row in rows]
    predictions = classifier.predict(texts, ensure_top_label=options.ensure_top_label, show_progress=True)
    if options.explain:
        classifier.add_explanations(
            texts, predictions, options.explain_top, n_steps=options.explain_steps, show_progress=True
        )
    write_predictions(
        rows, predictions, options.output, options.resolved_output_format(), prefix=options.prediction_prefix
    )
    if options.output != "-":
        print(f"Wrote {len(rows)} predictions to {options.output}", file=sys.stderr)
    return 0


PROCESS_COUNT_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
"""Where a launcher (torchrun, as `accelerate launch` runs it, or MPI) puts the number of processes."""

BARRIER_TIMEOUT = timedelta(days=7)
"""How long a process that has done its chunks waits for the others (torch.distributed's default, 30 minutes, is too
short for a resumed run in which one process finds its chunks done and another has all of its own still to do)."""


def several_processes() -> bool:
    """Whether a launcher started this process as one of several (read from the environment, as accelerate's
    `get_int_from_env` does, without importing accelerate: it imports torch, which the ONNX path does without)."""
    for name in PROCESS_COUNT_VARIABLES:
        value = os.environ.get(name, "")
        if value.strip().lstrip("-").isdigit():
            return int(value) > 1
    return False


def process_state():
    """This process's place among the processes a launcher started (accelerate's `PartialState`; one process when
    started alone). The processes share no tensors, they only wait for each other: gloo over the CPU does that on
    every machine, and fails at once, rather than at the timeout, when another process dies."""
    from accelerate import PartialState

    return PartialState(cpu=True, timeout=BARRIER_TIMEOUT)


def process_device(state) -> str:
    """Where this process runs a torch model: its own GPU (by local process number) when there are GPUs, else the CPU.

    Args:
        state: the process state (:func:`process_state`).
    """
    import torch
    from accelerate.utils import parse_flag_from_env

    if torch.cuda.is_available() and not parse_flag_from_env("ACCELERATE_USE_CPU"):
        return f"cuda:{state.local_process_index % torch.cuda.device_count()}"
    return "cpu"  # plain "cpu", not "cpu:0": on "cpu:0" torch computes the scores with other float rounding


def predict_in_chunks(model: SavedModelArguments, backend: BackendArguments, options: PredictArguments) -> int:
    """`goemox predict` in chunks (see :mod:`goemox.inference.sharding`): this process predicts its share of the
    chunks into `OUTPUT.shards/`, then the main process, once every process is done, joins them into the output.

    Args:
        model: the saved model options.
        backend: the backend options.
        options: what predict reads and writes (`--output` checked already).

    Example:

    ```python
    >>> predict_in_chunks(SavedModelArguments("runs/demo"), BackendArguments(), PredictArguments(  # doctest: +SKIP
    ...     input="texts.jsonl", output="preds.jsonl", chunk_rows=1000))
    0
    ```"""
    from goemox.data.text_files import input_format, iter_inputs
    from goemox.errors import first_line
    from goemox.file_io import check_output_folder
    from goemox.inference.sharding import (
        check_shard_folder,
        merge_shards,
        predict_shards,
        run_fingerprint,
        shard_folder,
    )

    for option, path in (("--input", options.input), ("--output", options.output)):
        if path == "-":
            raise GoEmoXUsageError(
                f"{option} -: predicting in chunks (--chunk_rows, or several processes) needs files, not standard "
                "input or output: every process reads the input, and the chunks are kept beside the output"
            )
    inputs = [options.input, model.model]
    folder = check_output_folder(shard_folder(options.output), overwrite=True, inputs=inputs, option="--output")
    check_shard_folder(folder)
    rows = iter_inputs(options.input, options.text_column, options.input_format)
    # onnxruntime in one process: no torch to import (the ONNX path runs without it) and no other process to wait for.
    state = None if backend.backend == "onnx" and not several_processes() else process_state()
    classifier = model.load(backend, device=None if state is None else process_device(state))
    chunk_rows = options.chunk_rows or DEFAULT_CHUNK_ROWS
    fmt = options.resolved_output_format()
    settings = {**asdict(model), **asdict(backend), **asdict(options)}
    for name in ("model", "allow_pickle_weights", "input", "output", "overwrite"):
        del settings[name]  # the model is fingerprinted by its files, the input by each chunk's rows
    settings.update(
        input_format=input_format(options.input, options.input_format), output_format=fmt, chunk_rows=chunk_rows
    )
    keys = predict_shards(
        rows,
        classifier,
        folder,
        run_fingerprint(model.model, settings),
        chunk_rows=chunk_rows,
        rank=0 if state is None else state.process_index,
        world_size=1 if state is None else state.num_processes,
        text_column=options.text_column,
        fmt=fmt,
        prefix=options.prediction_prefix,
        ensure_top_label=options.ensure_top_label,
        explain_top=options.explain_top if options.explain else None,
        explain_steps=options.explain_steps,
        name=options.input,
    )
    try:
        if state is not None:
            state.wait_for_everyone()
    except RuntimeError as err:  # gloo: another process died
        raise GoEmoXError(
            f"another process stopped before it finished its chunks ({first_line(err)}); the chunks done are kept in "
            f"{folder}: run the same command again to predict the rest"
        ) from None
    if state is None or state.is_main_process:
        count = merge_shards(folder, keys, options.output, fmt, options.prediction_prefix)
        print(f"Wrote {count} predictions to {options.output}", file=sys.stderr)
    return 0


COMMANDS = by_name(
    Command(
        "predict",
        (SavedModelArguments, BackendArguments, PredictArguments),
        run_predict,
    )
)
