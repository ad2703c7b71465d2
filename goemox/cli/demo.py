"""`goemox demo`: serve the Streamlit web demo for a model."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from goemox.cli.options import check_at_least
from goemox.cli.parsing import Command, by_name
from goemox.demo.logic import DEFAULT_MAX_LENGTH, DEFAULT_MAX_ROWS, DemoSettings
from goemox.errors import GoEmoXUsageError
from goemox.inference.loading import long_text_field

APP = Path(__file__).resolve().parents[1] / "demo" / "app.py"


@dataclass
class DemoArguments:
    """What `goemox demo` serves and where.

    Args:
        model: a saved model folder or Hub id.
        host: the address to serve on.
        port: the port to serve on.
        max_rows: the most rows an uploaded file may have.
        max_length: the longest input in tokens.
        long_text: `truncate` or `window` (`None`: the model's stored setting, else truncate).
        long_text_stride: tokens shared by consecutive windows (`None`: the model's, else 32).
        long_text_aggregation: `max` or `mean` over a text's windows (`None`: the model's, else max).
    """

    model: str = field(metadata={"help": "Saved model folder or Hub id."})
    host: str = field(default="127.0.0.1", metadata={"help": "Address to serve on (default: 127.0.0.1)."})
    port: int = field(default=8501, metadata={"help": "Port to serve on (default: 8501)."})
    max_rows: int = field(default=DEFAULT_MAX_ROWS, metadata={"help": "Most rows an uploaded file may have."})
    max_length: int = field(default=DEFAULT_MAX_LENGTH, metadata={"help": "Longest input in tokens."})
    long_text: str | None = long_text_field("long_text")
    long_text_stride: int | None = long_text_field("long_text_stride")
    long_text_aggregation: str | None = long_text_field("long_text_aggregation")

    def __post_init__(self) -> None:
        for name in ("port", "max_rows", "max_length"):
            check_at_least(name, getattr(self, name), 1)
        if self.port > 65535:
            raise GoEmoXUsageError(f"--port must be at most 65535, got {self.port}")


def demo_command(options: DemoArguments) -> list[str]:
    """The `streamlit run` command line that serves `goemox/demo/app.py` with the options of `goemox demo`."""
    settings = DemoSettings(
        model=options.model,
        max_rows=options.max_rows,
        max_length=options.max_length,
        long_text=options.long_text,
        long_text_stride=options.long_text_stride,
        long_text_aggregation=options.long_text_aggregation,
    )
    streamlit = ["--server.address", options.host, "--server.port", str(options.port), "--server.headless", "true"]
    streamlit += ["--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    streamlit += ["--client.toolbarMode", "viewer"]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *streamlit, "--", *settings.script_args()]


def run_demo(options: DemoArguments) -> NoReturn:
    """Serve the demo until stopped: this process becomes the Streamlit server, so a signal reaches it directly."""
    if importlib.util.find_spec("streamlit") is None:
        raise GoEmoXUsageError("the demo needs Streamlit: pip install 'goemox[demo]'")
    print(
        f"goemox demo: serving {options.model} on http://{options.host}:{options.port} (Ctrl-C stops it)",
        file=sys.stderr,
    )
    sys.stderr.flush()
    command = demo_command(options)
    os.execv(command[0], command)


COMMANDS = by_name(Command("demo", (DemoArguments,), run_demo))
