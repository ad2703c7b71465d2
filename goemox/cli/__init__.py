"""The `goemox` command line: one sub-command per job (`goemox --help` lists them).

Each command is named and summarised once, in :data:`COMMANDS`; its module (`goemox/cli/<group>.py`) declares it
as a :class:`~goemox.cli.parsing.Command`: option dataclasses and the function that runs them. :func:`main` finds
the command, parses its options with one `HfArgumentParser` and is the one place where a goemox error becomes
`goemox: error: ...` and exit status 2.
Nothing outside this package imports it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from goemox.errors import GoEmoXError

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "Fine-tune an encoder with the Tanh head."),
    "distill": ("train", "Train a student on teachers' soft targets and the gold labels."),
    "search": ("train", "Optuna hyperparameter search (resumable, several workers)."),
    "evaluate": ("evaluate", "Score a saved model on a labelled split (optionally an error analysis)."),
    "predict": ("predict", "Label texts from a file or standard input."),
    "calibrate": ("calibrate", "Calibrate a saved model's scores (Platt or temperature scaling)."),
    "analyze": ("analyze", "Domain shift analysis of a model."),
    "bias-probe": ("analyze", "Swap identity terms into sentences and measure how each label's score moves."),
    "data stats": ("data", "Describe a labelled data set: label frequencies, co-occurrence, token lengths, emoji."),
    "fetch hackernews": ("data", "Download Hacker News stories (out-of-domain text)."),
    "fetch github-issues": (
        "data",
        "Download a GitHub repository's issues (out-of-domain text; token from $GITHUB_TOKEN or $GH_TOKEN).",
    ),
    "export hub": ("publish", "Write the exact folder `goemox push` would upload, without uploading."),
    "export onnx": ("publish", "Export to ONNX for CPU inference with onnxruntime (`goemox predict --backend onnx`)."),
    "push": ("publish", "Publish a trained model to the Hub (one commit; native class when possible)."),
    "card": ("publish", "Render a trained run's model card (README.md)."),
    "demo": ("demo", "Start the web demo (Streamlit) for a model."),
}
"""Command name -> (module under `goemox.cli`, one-line summary): the one place each command's name and summary
are declared (`goemox --help` lists them without importing the command modules; `goemox NAME --help` shows the
summary too, unless the command has a longer description)."""


def usage(prefix: str = "") -> str:
    """The list of commands (those starting with `prefix`), for `goemox --help`."""
    names = [name for name in COMMANDS if name.startswith(prefix)]
    width = max(len(name) for name in names)
    lines = [f"usage: goemox {prefix or 'COMMAND '}{'SUBCOMMAND ' if prefix else ''}[options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {COMMANDS[name][1]}" for name in names]
    lines += ["", "`goemox COMMAND --help` lists a command's options; every command also reads --config FILE.yaml."]
    return "\n".join(lines)


def find_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """The command named by the first one or two words, and the words after it."""
    for size in (2, 1):
        name = " ".join(argv[:size])
        if len(argv) >= size and name in COMMANDS:
            return name, argv[size:]
    return None, argv


def run(name: str, argv: Sequence[str]) -> int:
    """Parse a command's options and run it (goemox errors propagate).

    Args:
        name: a key of :data:`COMMANDS`.
        argv: the words after the command's name.
    """
    from goemox.cli.parsing import parse_command

    module = importlib.import_module(f"goemox.cli.{COMMANDS[name][0]}")
    command = module.COMMANDS[name]
    return command.run(*parse_command(command, argv))


def close_progress_bars() -> None:
    """Close the progress bars a stopped step left open (an evaluation's, say), so that they do not clear their line
    and move the cursor up over the message printed after them when the process exits."""
    progress = sys.modules.get("tqdm.std")
    for bar in list(getattr(progress.tqdm, "_instances", ()) if progress is not None else ()):
        bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `goemox` command.

    Example:

    ```python
    >>> main(["predict", "--model", "runs/demo", "--input", "texts.txt"])  # doctest: +SKIP
    0
    ```"""
    argv = list(sys.argv[1:] if argv is None else argv)
    name, rest = find_command(argv)
    if name is None:
        group = argv[0] if argv and any(command.startswith(argv[0] + " ") for command in COMMANDS) else ""
        if argv[len(group.split()) : len(group.split()) + 1] in (["-h"], ["--help"]):
            print(usage(group + " " if group else ""))
            return 0
        print(usage(group + " " if group else ""), file=sys.stderr)
        if argv and not group:
            print(f"\ngoemox: error: unknown command {argv[0]!r}", file=sys.stderr)
        return 2
    try:
        return run(name, rest)
    except GoEmoXError as err:
        close_progress_bars()
        print(f"goemox: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_progress_bars()
        print(f"\ngoemox: interrupted; `goemox {name}` stopped before it finished", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
