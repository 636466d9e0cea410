"""The one backoff policy of every retry loop: how long to wait before the next attempt.

Attempt ``n`` (0 for the first retry) waits ``d = min(max_s, initial_s * 2**n)``; with
``jitter`` > 0 a random time in ``[(1 - jitter) * d, d]`` instead, so that many devices cut off
together (a broker restart) do not all come back at the same instant. ::

    reopen = Backoff(initial_s=0.5, max_s=10.0, jitter=0.0).retry()
    while not try_to_open():
        stop.wait(reopen.next_delay())  # 0.5, 1, 2, 4, 8, 10, 10 ... s; returns early on stop
    reopen.reset()  # the next outage starts at 0.5 s again

Its users: the serial ports (``drivers.serial_port``: reopen, no jitter), the MQTT connection
(``sync.connection``: reconnect), the uplink (a refused batch; the acknowledgement timeout) and the
queue client (durable requests). This module imports nothing but the standard library, so that
drivers, sync and the domain may all import it without importing each other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_MAX_DOUBLINGS = 30  # 2**30 times any sensible initial delay is past any sensible cap


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff from ``initial_s`` up to ``max_s`` seconds, with optional jitter
    (``0``: exact delays, ``1``: anything from 0 to the delay). Frozen: a setting, not a loop's
    state (that is :class:`Retry`)."""

    initial_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(
                f"backoff needs 0 < initial_s <= max_s, got {self.initial_s} and {self.max_s}"
            )
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"backoff jitter must be 0 .. 1, got {self.jitter}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (from 0)."""
        base = min(self.max_s, self.initial_s * 2 ** min(max(attempt, 0), _MAX_DOUBLINGS))
        if not self.jitter:
            return base
        return (rng or random).uniform(base * (1.0 - self.jitter), base)

    def retry(self, rng: random.Random | None = None) -> Retry:
        """A fresh count of failures in a row for one retry loop."""
        return Retry(self, rng)


class Retry:
    """Where one retry loop stands in its :class:`Backoff`: the failures in a row so far.

    Not thread-safe: one loop uses it from one thread (or under that loop's own lock).
    """

    def __init__(self, policy: Backoff, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.failures = 0
        self._rng = rng

    def next_delay(self) -> float:
        """Count one more failure; the time to wait before the next attempt."""
        delay = self.policy.delay(self.failures, self._rng)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Success: the next failure waits the initial delay again."""
        self.failures = 0
