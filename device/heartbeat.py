"""Heartbeats for 开机率: one ``device.heartbeat`` event per wall-clock minute the device is on.

They go into the device's own store, so power-on minutes are recorded while the network is down
and reach the centre later through the outbox: a network outage is not downtime, a power cut is.
The centre counts the distinct minutes (``central.uptime``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from device.store import EventStore
from device.store_thread import StoreThread
from domain.clock import Clock, minute_of, rate_of
from domain.events import DeviceHeartbeat, StoredEvent, event

log = logging.getLogger(__name__)

CHECK_MARGIN_S = 0.05
"""Checks fall this long after their wall-clock mark, so that the mark is surely passed."""


def next_check_in(wall: datetime, every_s: float) -> float:
    """Seconds from ``wall`` to the next heartbeat check.

    Checks fall on the multiples of ``every_s`` within each wall-clock minute, and every minute
    begins with one: with ``every_s`` 60 that is one check just after each minute starts, rather
    than one every 60 s, which drifts and, a sleep ending late, skips a minute now and then.
    """
    into = wall.second + wall.microsecond / 1e6
    mark = min(math.floor(into / every_s + 1) * every_s, 60.0)
    return mark - into + CHECK_MARGIN_S


class Heartbeat:
    """Append a heartbeat whenever the clock has entered a minute not yet beaten."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._last: datetime | None = None

    def beat(self) -> StoredEvent | None:
        """The stored heartbeat, or None if this minute already has one."""
        now = self.clock.now()
        minute = minute_of(now.wall)
        if minute == self._last:
            return None
        beat = self.store.append(
            event(now, DeviceHeartbeat(minute=minute.isoformat(timespec="minutes")))
        )
        self._last = minute
        return beat


class HeartbeatThread(StoreThread):
    """Runs :class:`Heartbeat` in its own thread with its own store, at the multiples of
    ``check_s`` of each wall-clock minute (``[mqtt] heartbeat_s``, at most 60: see
    :func:`next_check_in`)."""

    def __init__(
        self,
        store_path: str | Path,
        device: str,
        clock: Clock,
        *,
        check_s: float = 5.0,
        on_beat: Callable[[StoredEvent], None] | None = None,
    ) -> None:
        super().__init__("heartbeat", store_path, device, clock)
        self.check_s = check_s
        self.on_beat = on_beat

    def _run(self) -> None:
        with EventStore(self.store_path, self.device) as store:
            heartbeat = Heartbeat(store, self.clock)
            while True:
                try:
                    event = heartbeat.beat()
                    if event is not None and self.on_beat is not None:
                        self.on_beat(event)
                except Exception:
                    log.exception("%s: heartbeat failed", self.device)
                wait = next_check_in(self.clock.now().wall, self.check_s) / rate_of(self.clock)
                if self._stop.wait(wait):  # an accelerated clock's minutes pass sooner
                    return
