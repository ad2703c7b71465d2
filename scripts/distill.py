"""`goemox distill` as a script, for `accelerate launch scripts/distill.py [options]` (several processes or GPUs)."""

import sys

from goemox.cli import main

if __name__ == "__main__":
    sys.exit(main(["distill", *sys.argv[1:]]))
