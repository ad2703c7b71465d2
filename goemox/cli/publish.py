"""Publishing a trained model: `goemox export hub` (the exact Hub folder), `goemox export onnx`, `goemox push` and
`goemox card`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from goemox.cli.options import overwrite_field
from goemox.cli.parsing import Command, by_name
from goemox.errors import GoEmoXUsageError
from goemox.hub.model_card import ModelCardOptions

ONNX_HELP = (
    "Also hold the ONNX export (onnx/model.onnx and the int8 onnx/model_quantized.onnx), so that optimum and "
    "transformers.js load the repository as written (models published as a native class)."
)


@dataclass
class TrainedModelArguments:
    """The trained goemox model folder a publishing command reads."""

    model: str = field(metadata={"help": "Trained goemox model folder (`goemox train --output_dir`)."})


@dataclass
class ExportHubArguments:
    """Where `goemox export hub` writes and which class it publishes."""

    output_dir: str = field(metadata={"help": "Folder to write (must not hold files unless --overwrite)."})
    no_native: bool = field(default=False, metadata={"help": "Keep goemox's architecture (remote code)."})
    onnx: bool = field(default=False, metadata={"help": ONNX_HELP})
    overwrite: bool = overwrite_field("--output_dir")


@dataclass
class ExportOnnxArguments:
    """Where `goemox export onnx` writes."""

    output_dir: str = field(
        metadata={"help": "The folder to write (onnx/model.onnx, config.json, the tokenizer, onnx_export.json)."}
    )
    quantize: str | None = field(
        default=None,
        metadata={
            "help": "Also write an int8 copy (onnx/model_quantized.onnx; a text's scores do not depend on its batch).",
            "choices": ["int8"],
        },
    )
    check_file: str | None = field(
        default=None,
        metadata={
            "help": "Texts on which the export is compared with PyTorch (e.g. validation texts; same formats). "
            "Default: goemox's demo sentences."
        },
    )
    text_column: str = field(default="text", metadata={"help": "Column with the text (CSV/TSV/JSONL files)."})
    overwrite: bool = overwrite_field("the export files in --output_dir")


@dataclass
class PushArguments:
    """How `goemox push` commits."""

    private: bool = field(default=False, metadata={"help": "Create the repository as private."})
    revision: str | None = field(default=None, metadata={"help": "Branch to commit to (created if missing)."})
    commit_message: str | None = field(default=None, metadata={"help": "Message of the commit."})
    no_native: bool = field(
        default=False, metadata={"help": "Publish goemox's architecture (remote code) even if native works."}
    )
    onnx: bool = field(default=False, metadata={"help": ONNX_HELP})


@dataclass
class CardArguments:
    """Where `goemox card` writes."""

    output: str | None = field(
        default=None, metadata={"help": "Where to write (default: MODEL/README.md, re-rendered); - for stdout."}
    )
    overwrite: bool = overwrite_field("an existing --output other than the model's own README.md")


def check_card_repo_id(card: ModelCardOptions) -> None:
    """Refuse a `--repo_id` that is not a Hub model id, when one is given."""
    from goemox.hub.push import check_repo_id

    if card.repo_id is not None:
        check_repo_id(card.repo_id, "--repo_id")


def run_export_hub(model: TrainedModelArguments, options: ExportHubArguments, card: ModelCardOptions) -> int:
    from goemox.hub.folder import build_hub_folder

    check_card_repo_id(card)
    folder = build_hub_folder(
        model.model,
        options.output_dir,
        native=not options.no_native,
        card_options=card,
        overwrite=options.overwrite,
        onnx=options.onnx,
    )
    kind = "native transformers class" if folder.native else f"goemox remote code ({folder.native_blocker})"
    print(f"Wrote {len(folder.files)} files to {folder.path}: {folder.architecture}, {kind}")
    print(f"Reloaded and checked: max probability difference {folder.max_abs_difference:.1e}")
    return 0


def run_export_onnx(model: TrainedModelArguments, options: ExportOnnxArguments) -> int:
    from goemox.data.text_files import read_inputs
    from goemox.exporters.onnx import export_onnx

    check_texts = None
    if options.check_file is not None:
        check_texts = [row[options.text_column] for row in read_inputs(options.check_file, options.text_column)]
        if not check_texts:
            raise GoEmoXUsageError(f"--check_file {options.check_file}: no texts in it")
    record = export_onnx(
        model.model,
        options.output_dir,
        quantize=options.quantize,
        overwrite=options.overwrite,
        check_texts=check_texts,
        check_name=options.check_file,
    )
    parity = record["parity"]
    print(f"Wrote {', '.join(record['files'].values())}, config.json and the tokenizer to {options.output_dir}")
    print(
        f"Checked against PyTorch on {parity['texts']} texts of {parity['source']} "
        f"(inputs: {', '.join(record['inputs'])}):"
    )
    for precision in record["files"]:
        check = parity[precision]
        print(
            f"  {precision}: max |probability difference| {check['max_abs_probability_difference']:.2e}, "
            f"same labels for {check['label_agreement']:.1%} of texts"
        )
    fusion = record["graph_optimization"]
    fused = ", ".join(f"{count} {name}" for name, count in fusion.get("fused_operators", {}).items()) or "none"
    print(f"Fused operators: {fused}" + ("" if fusion["applied"] else f" (not kept: {fusion['reason']})"))
    if record["quantization"]:
        chosen = record["quantization"]
        print(
            f"int8: {chosen['method']}, weights and activations in blocks of {chosen['block_size']} values, "
            "activations per row (a text's scores do not depend on its batch)"
        )
    print(f"Predict with: goemox predict --backend onnx --model {options.output_dir} --input texts.txt")
    return 0


def run_push(model: TrainedModelArguments, options: PushArguments, card: ModelCardOptions) -> int:
    from goemox.hub.push import push_to_hub

    if card.repo_id is None:
        raise GoEmoXUsageError("--repo_id user/name (or org/name) is required: the repository to publish to")
    check_card_repo_id(card)
    url = push_to_hub(
        model.model,
        card.repo_id,
        private=options.private or None,
        revision=options.revision,
        commit_message=options.commit_message,
        native=not options.no_native,
        card_options=card,
        onnx=options.onnx,
    )
    print(f"Published {model.model} to {card.repo_id}: {url}")
    return 0


def run_card(model: TrainedModelArguments, options: CardArguments, card: ModelCardOptions) -> int:
    from goemox.file_io import check_output_file, write_text_atomically
    from goemox.hub.model_card import render_model_card
    from goemox.run_folder import CARD_FILE

    check_card_repo_id(card)
    model_dir = Path(model.model)
    output = Path(options.output or model_dir / CARD_FILE)
    own_card = output.resolve() == (model_dir / CARD_FILE).resolve()
    inputs = [card.analysis_dir, card.comparison_file] + ([] if own_card else [model_dir])
    # The model's own card is the one the command re-renders; any other existing file is the user's.
    check_output_file(output, overwrite=own_card or options.overwrite, inputs=inputs, option="--output")
    text = str(render_model_card(model_dir, options=card))
    if options.output == "-":
        print(text, end="")
        return 0
    write_text_atomically(output, text)
    print(f"Wrote {output}")
    return 0


COMMANDS = by_name(
    Command(
        "export hub",
        (TrainedModelArguments, ExportHubArguments, ModelCardOptions),
        run_export_hub,
        legacy_positionals=("model", "output_dir"),
    ),
    Command(
        "export onnx",
        (TrainedModelArguments, ExportOnnxArguments),
        run_export_onnx,
        description="Export a saved model folder to ONNX in --output_dir in the Hub layout that optimum and "
        "transformers.js load (onnx/model.onnx, onnx/model_quantized.onnx, config.json, the tokenizer), checked "
        "against PyTorch on --check_file (default: goemox's demo sentences); fails if fp32 probabilities differ by "
        "more than 1e-4.",
        legacy_positionals=("model", "output_dir"),
    ),
    Command(
        "push",
        (TrainedModelArguments, PushArguments, ModelCardOptions),
        run_push,
        description="Publish a trained model folder to a Hub model repository in a single commit. The token comes "
        "from huggingface_hub (HF_TOKEN or `hf auth login`) and is never printed.",
        legacy_positionals=("model", "repo_id"),
    ),
    Command(
        "card",
        (TrainedModelArguments, CardArguments, ModelCardOptions),
        run_card,
        legacy_positionals=("model",),
    ),
)
