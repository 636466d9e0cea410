"""Command-line output into a pipe whose reader has gone (``counterside centre devices | head``).

Python ignores SIGPIPE, so a write to a closed pipe or socket raises ``BrokenPipeError``
(EPIPE). That must stay so: a long-running command (``centre run``, ``counter``, ``controller``)
writes to MQTT sockets, and a broker that vanished mid-write must be an error its client
handles, never the silent end of the process. A command whose *output* pipe closed, on the other
hand, simply has nobody left to tell: :func:`quiet_on_broken_pipe` ends it without a traceback.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""141: what a shell reports for a writer whose reader went away."""


def quiet_on_broken_pipe(command: Callable[[], int]) -> int:
    """Run ``command``; if standard output's reader went away, return 141 without a traceback."""
    try:
        code = command()
        sys.stdout.flush()  # here, not at exit, where the error could only be printed
        return code
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # another pipe or socket broke: that is an error, not the end of the output
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush goes nowhere
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False
