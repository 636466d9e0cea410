"""Ctrl-C and SIGINT stop every command, however it was started.

A shell script starts its background jobs (``counterside counter ... &``) with SIGINT ignored,
and Python leaves a signal ignored at start-up as it found it: such a counter, controller or
centre would never stop on the SIGINT its supervisor sends (``counterside demo`` stops its
processes so, and so do the tests). The commands take SIGINT back: it raises
``KeyboardInterrupt``, which each long-running command turns into a clean stop.
"""

from __future__ import annotations

import signal


def take_sigint() -> None:
    """SIGINT raises ``KeyboardInterrupt`` in the main thread, even if it was ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
