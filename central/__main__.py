"""``python -m central ...``: the same as ``counterside centre ...``."""

import sys

from central.cli import main
from support.interrupt import take_sigint

take_sigint()  # a stop by SIGINT works even when started as a script's background job
sys.exit(main())
