"""``--travel WHEN``: run the suite with this process's wall clock moved while time flows.

Tests must not depend on the date they run on: the README's test command runs the suite once as
it is and again with the wall clock moved (time-machine ``travel(target, tick=True)``; the
monotonic clock is left alone, as on a real machine whose clock was set). ``WHEN`` is an ISO
datetime (with an offset, or in the devices' time zone) or one of the presets below, computed
from today's real date so they stay meaningful on any day CI runs:

- ``year-ahead``: 10:00 on the same weekday 52 weeks ahead (a weekday: Saturday and Sunday move
  to the Monday after);
- ``before-midnight``: 23:58 today, two minutes before a business day ends.

Only this process travels: subprocesses a test starts keep the machine's clock, like a second
machine whose clock differs.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEVICE_TZ = ZoneInfo("Asia/Shanghai")  # the shipped default ([device] timezone)
PRESETS = ("year-ahead", "before-midnight")


def target(when: str, today: date | None = None) -> datetime:
    """The wall-clock time ``when`` names (see the module docstring)."""
    today = today or datetime.now(DEVICE_TZ).date()
    if when == "year-ahead":
        day = today + timedelta(weeks=52)
        day += timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)
        return datetime.combine(day, time(10, 0), DEVICE_TZ)
    if when == "before-midnight":
        return datetime.combine(today, time(23, 58), DEVICE_TZ)
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise ValueError(
            f"--travel {when!r}: expected an ISO datetime or one of {', '.join(PRESETS)}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=DEVICE_TZ)
