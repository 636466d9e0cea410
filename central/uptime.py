"""开机率 (uptime rate): minutes a pad was powered on within business hours / business minutes.

Pure functions. A minute counts as powered when the device stored a heartbeat in it (devices
beat once per minute into their own store, so a network outage is not downtime; a power cut is).
Business hours come from the configuration (``Config.hours``: weekday ``mon``..``sun`` -> spans of
local time), in the branch's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from config.model import WEEKDAYS, OpeningSpan
from domain.clock import minute_of


@dataclass(frozen=True)
class Uptime:
    business_minutes: int
    powered_minutes: int

    @property
    def rate(self) -> float | None:
        """Powered share of business minutes; None when the period has no business hours."""
        if not self.business_minutes:
            return None
        return self.powered_minutes / self.business_minutes


def business_minutes(
    hours: Mapping[str, Sequence[OpeningSpan]], start: date, end: date, timezone: str
) -> set[datetime]:
    """UTC start of every business minute on the days ``start <= day < end``."""
    zone = ZoneInfo(timezone)
    minutes: set[datetime] = set()
    day = start
    while day < end:
        for span in hours.get(WEEKDAYS[day.weekday()], ()):
            local = datetime.combine(day, span.start, zone)
            stop = datetime.combine(day, span.end, zone)
            while local < stop:
                minutes.add(local.astimezone(UTC))
                # step in UTC so a DST change neither repeats nor skips real minutes
                local = (local.astimezone(UTC) + timedelta(minutes=1)).astimezone(zone)
        day += timedelta(days=1)
    return minutes


def uptime(
    heartbeats: Iterable[datetime],
    hours: Mapping[str, Sequence[OpeningSpan]],
    start: date,
    end: date,
    timezone: str,
) -> Uptime:
    """Uptime of one device over the days ``start <= day < end`` (in ``timezone``)."""
    business = business_minutes(hours, start, end, timezone)
    powered = {minute_of(beat) for beat in heartbeats} & business
    return Uptime(len(business), len(powered))
