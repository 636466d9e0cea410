"""Clocks for tests that run in real time but must not depend on the date they run on."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from domain.clock import Instant, read_boot_id

MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday


class DaytimeClock:
    """The machine's monotonic clock, with a wall clock that starts at ``start`` (a fixed
    morning) and runs with it: a business day that cannot end during the test, whatever the
    real date and time (or ``--travel``)."""

    def __init__(self, start: datetime = MORNING, boot: str | None = None) -> None:
        self.boot = boot or read_boot_id() or str(uuid.uuid4())
        self._origin_mono = time.monotonic()
        self._origin_wall = start

    def now(self) -> Instant:
        mono = time.monotonic()
        return Instant(
            mono, self._origin_wall + timedelta(seconds=mono - self._origin_mono), self.boot
        )
