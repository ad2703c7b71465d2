"""`goemox train` as a script, for `accelerate launch scripts/train.py [options]` (several processes or GPUs)."""

import sys

from goemox.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
