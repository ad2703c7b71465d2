"""`python -m goemox`: the `goemox` command."""

import sys

from goemox.cli import main

sys.exit(main())
