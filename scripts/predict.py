"""`goemox predict` as a script, for `accelerate launch scripts/predict.py [options]`: the processes (GPUs, or CPU
processes with gloo; on one or several machines) share the input's chunks (`--chunk_rows`, 10,000 rows by default),
and the main process joins them into `--output`. A re-run after a crash predicts only the chunks not yet done."""

import sys

from goemox.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
