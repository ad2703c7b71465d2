"""`goemox search` as a script: start it once per worker (on one or several machines) to share one study."""

import sys

from goemox.cli import main

if __name__ == "__main__":
    sys.exit(main(["search", *sys.argv[1:]]))
