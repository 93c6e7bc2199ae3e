"""`python -m collector ...` is the `tablepulse` command line (see collector/cli.py)."""

import sys

from collector.cli import main

sys.exit(main())
