"""The business day: the local date of the wall clock, moved on by time passing, not by steps.

A Pi without a real-time clock, a bad time server or an operator can step the wall clock. A step
that crosses midnight must not end the business day (expiring everyone waiting and restarting the
numbering) if it is taken back soon after. So the keeper checks every wall-clock reading against
the monotonic clock since its last trusted reading (its anchor):

- within ``STEP_TOLERANCE_S`` of what the monotonic clock predicts, the wall clock is believed at
  once (drift, small corrections);
- a larger step is held back: the day follows the predicted time until the new wall clock has
  held for ``STEP_CONFIRM_S`` of monotonic time; a step taken back before that is forgotten;
- at a new boot the monotonic clock restarts, so the first reading is believed as it is (the
  units start after the system clock is synchronised).

The day only ever moves forward, so ticket numbers never restart within a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.clock import Instant

STEP_TOLERANCE_S = 120.0
STEP_CONFIRM_S = 600.0


@dataclass
class DayKeeper:
    """The current business day of a branch in ``timezone`` (``None`` before any reading)."""

    timezone: str
    day: date | None = None
    anchor: Instant | None = None  # the last reading whose wall clock was believed
    step_since: float | None = None  # monotonic time of the first reading of an unconfirmed step

    def __post_init__(self) -> None:
        self._tz = ZoneInfo(self.timezone)
        self.changes = 0  # counts changes of the state above (to know when to save it)

    def observe(self, at: Instant) -> date:
        """Take one reading of the clocks; returns the business day it belongs to."""
        before = (self.day, self.anchor, self.step_since)
        local = self.trusted_wall(at).astimezone(self._tz).date()
        if self.day is None or local > self.day:
            self.day = local
        if (self.day, self.anchor, self.step_since) != before:
            self.changes += 1
        return self.day

    def trusted_wall(self, at: Instant) -> datetime:
        """The wall-clock time of ``at`` as far as it can be believed (updates the anchor)."""
        anchor = self.anchor
        if anchor is None or anchor.boot != at.boot or at.mono < anchor.mono:
            self.anchor, self.step_since = at, None
            return at.wall
        predicted = anchor.wall + timedelta(seconds=at.mono - anchor.mono)
        off = abs((at.wall - predicted).total_seconds())
        if off <= STEP_TOLERANCE_S:
            if self.step_since is not None or off > 1.0:
                self.anchor, self.step_since = at, None
            return at.wall
        if self.step_since is None:
            self.step_since = at.mono
        if at.mono - self.step_since >= STEP_CONFIRM_S:
            self.anchor, self.step_since = at, None
            return at.wall
        return predicted

    def to_state(self) -> dict:
        return {
            "day": self.day.isoformat() if self.day else None,
            "anchor": self.anchor.to_dict() if self.anchor else None,
            "step_since": self.step_since,
        }

    @classmethod
    def from_state(cls, timezone: str, state: dict) -> DayKeeper:
        return cls(
            timezone,
            date.fromisoformat(state["day"]) if state["day"] else None,
            Instant.from_dict(state["anchor"]) if state["anchor"] else None,
            state["step_since"],
        )
