"""``python -m simulator serve ...``: the bundled market's command line (see simulator/cli.py)."""

import sys

from simulator.cli import main

sys.exit(main())
