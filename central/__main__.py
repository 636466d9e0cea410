"""``python -m central ...``: the same as ``counterside centre ...``."""

import sys

from central.cli import main

sys.exit(main())
