"""The clock a device app runs on: the machine's, or an accelerated one for simulations.

``$COUNTERSIDE_CLOCK`` (set by ``counterside demo`` for every process it starts) holds a
:class:`~domain.clock.ScaledClock` as ``rate|epoch_mono|epoch_wall|boot``: every app of the
simulated branch then reads the same accelerated time. Unset, the app runs on the real clocks.
"""

from __future__ import annotations

import os

from domain.clock import CLOCK_ENV, Clock, clock_from

ENV = CLOCK_ENV


def device_clock() -> Clock:
    """The clock ``$COUNTERSIDE_CLOCK`` describes, else the machine's own."""
    return clock_from(os.environ)
