"""Time as the domain sees it: a monotonic reading for durations, the wall clock for humans.

A Pi without a real-time clock may boot in 1970 and jump when NTP arrives, so durations are taken
from the monotonic clock whenever both ends were read in the same boot. Across a reboot the
monotonic clock restarts; then the wall clock is the only measure, clamped at zero and marked as
approximate.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, order=True)
class Instant:
    """One reading of both clocks. ``mono`` is seconds on the monotonic clock of boot ``boot``."""

    mono: float
    wall: datetime
    boot: str = ""

    def to_dict(self) -> dict:
        return {"mono": self.mono, "wall": self.wall.isoformat(), "boot": self.boot}

    @classmethod
    def from_dict(cls, data: dict) -> Instant:
        return cls(float(data["mono"]), datetime.fromisoformat(data["wall"]), data.get("boot", ""))


@dataclass(frozen=True)
class Duration:
    """Seconds between two instants; ``exact`` is False when it had to use the wall clock."""

    seconds: float
    exact: bool = True


def between(start: Instant, end: Instant, boot_ends: BootEnds | None = None) -> Duration:
    """Duration from ``start`` to ``end``: never negative, whatever the wall clock did.

    Within one boot it is exact (monotonic clock). Across a reboot it is marked inexact and is
    the wall-clock difference, but never less than what is known for sure: the time measured
    in ``start``'s boot up to its last known instant (``boot_ends``) plus the time since
    ``end``'s boot began (its monotonic reading), so a clock set back at boot cannot hide it.
    """
    if start.boot == end.boot:
        return Duration(max(0.0, end.mono - start.mono), True)
    wall = (end.wall - start.wall).total_seconds()
    last = boot_ends.last(start.boot) if boot_ends is not None else None
    known = 0.0 if last is None else max(0.0, last.mono - start.mono) + max(0.0, end.mono)
    return Duration(max(0.0, wall, known), False)


class BootEnds:
    """The last known instant of each recent earlier boot (the last event stored in it).

    Told at each restart (:meth:`note`); used by :func:`between` to bound durations that span a
    power cut. Only the most recent ``KEEP`` boots are kept: nothing open lasts longer.
    """

    KEEP = 8

    def __init__(self, ends: dict[str, Instant] | None = None) -> None:
        self._ends: dict[str, Instant] = dict(ends or {})

    def note(self, last: Instant) -> None:
        """``last`` is the latest instant known of its boot."""
        known = self._ends.pop(last.boot, None)
        self._ends[last.boot] = last if known is None or last.mono >= known.mono else known
        while len(self._ends) > self.KEEP:
            del self._ends[next(iter(self._ends))]

    def last(self, boot: str) -> Instant | None:
        return self._ends.get(boot)

    def between(self, start: Instant, end: Instant) -> Duration:
        return between(start, end, self)

    def to_state(self) -> list[dict]:
        return [at.to_dict() for at in self._ends.values()]

    @classmethod
    def from_state(cls, state: list[dict]) -> BootEnds:
        ends = cls()
        for item in state:
            ends.note(Instant.from_dict(item))
        return ends


class Clock(Protocol):
    """Anything that can say what time it is now."""

    def now(self) -> Instant: ...


def read_boot_id() -> str:
    """The kernel's id of this boot (Linux), or a fresh id per process elsewhere."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return _PROCESS_BOOT_ID


_PROCESS_BOOT_ID = str(uuid.uuid4())


class SystemClock:
    """The real clocks of this machine."""

    def __init__(self, boot_id: str | None = None) -> None:
        self.boot = boot_id or read_boot_id()

    def now(self) -> Instant:
        return Instant(time.monotonic(), datetime.now(UTC), self.boot)


class ManualClock:
    """A clock that moves only when told: for tests, simulations and replays.

    ``advance`` moves both clocks; ``jump_wall`` moves only the wall clock (an NTP step or an
    operator setting the time); ``reboot`` starts a new boot with the monotonic clock at zero.
    """

    def __init__(self, wall: datetime | None = None, mono: float = 1000.0, boot: str = "boot-1"):
        self._wall = wall or datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
        self._mono = mono
        self.boot = boot

    def now(self) -> Instant:
        return Instant(self._mono, self._wall, self.boot)

    def advance(self, seconds: float) -> Instant:
        if seconds < 0:
            raise ValueError("time only moves forward; use jump_wall for wall-clock steps")
        self._mono += seconds
        self._wall += timedelta(seconds=seconds)
        return self.now()

    def jump_wall(self, seconds: float) -> Instant:
        self._wall += timedelta(seconds=seconds)
        return self.now()

    def reboot(self, boot: str, downtime_s: float = 0.0) -> Instant:
        self._wall += timedelta(seconds=downtime_s)
        self._mono = 0.0
        self.boot = boot
        return self.now()


def wall_text(when: datetime) -> str:
    """The stored form of a wall-clock time: UTC, fixed width, so text order is time order."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"wall-clock time {when.isoformat()} has no UTC offset")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def minute_of(wall: datetime) -> datetime:
    """The UTC minute a wall-clock time falls in."""
    return wall.astimezone(UTC).replace(second=0, microsecond=0)


class ScaledClock:
    """This machine's clocks run ``rate`` times faster from an epoch: accelerated simulations.

    At the system's monotonic reading ``epoch_mono`` the simulated wall clock reads
    ``epoch_wall``; from then on both the simulated wall clock and the monotonic reading (which
    starts at 0, as a boot's does) advance ``rate`` simulated seconds per real second. The system's
    monotonic clock is shared by every process of the machine, so processes given the same
    epoch, rate and boot agree to the microsecond: a ticket issued by one and called by another
    has an exact wait. Before ``epoch_mono`` the clock stands at the epoch (a simulation can
    start its processes and let the day begin once they are up). ``boot`` names the run: a new
    run is a new boot (its monotonic readings are not comparable with the last run's), as after
    a power cut.
    """

    def __init__(self, epoch_mono: float, epoch_wall: datetime, rate: float, boot: str) -> None:
        if rate <= 0:
            raise ValueError(f"a clock's rate must be positive, not {rate}")
        if epoch_wall.tzinfo is None:
            raise ValueError("the epoch's wall-clock time needs a UTC offset")
        self.epoch_mono, self.epoch_wall, self.rate, self.boot = epoch_mono, epoch_wall, rate, boot

    def now(self) -> Instant:
        return self.at(time.monotonic())

    def at(self, real_mono: float) -> Instant:
        """The simulated instant at the system's monotonic reading ``real_mono``."""
        elapsed = max(0.0, real_mono - self.epoch_mono) * self.rate
        # the run's monotonic clock starts at 0, as a boot's does: a reading of another run (a
        # ticket left waiting by the last demo) is then measured as across a power cut
        return Instant(elapsed, self.epoch_wall + timedelta(seconds=elapsed), self.boot)

    def to_text(self) -> str:
        """``rate|epoch_mono|epoch_wall|boot``: handed to child processes (``from_text``)."""
        return f"{self.rate!r}|{self.epoch_mono!r}|{self.epoch_wall.isoformat()}|{self.boot}"

    @classmethod
    def from_text(cls, text: str) -> ScaledClock:
        try:
            rate, mono, wall, boot = text.split("|", 3)
            return cls(float(mono), datetime.fromisoformat(wall), float(rate), boot)
        except ValueError as exc:
            raise ValueError(f"a scaled clock is rate|epoch_mono|epoch_wall|boot: {exc}") from None


def rate_of(clock: Clock) -> float:
    """How many simulated seconds pass per real second on ``clock`` (1 for the real clocks)."""
    return float(getattr(clock, "rate", 1.0))


CLOCK_ENV = "COUNTERSIDE_CLOCK"
"""The environment variable that gives every process of a simulation one accelerated clock (a
:class:`ScaledClock` as text; set by ``counterside demo``)."""


def clock_from(environ: Mapping[str, str]) -> Clock:
    """The clock ``environ[CLOCK_ENV]`` describes, else the machine's own."""
    text = environ.get(CLOCK_ENV, "")
    return ScaledClock.from_text(text) if text else SystemClock()


def wall_now_from(environ: Mapping[str, str]) -> Callable[[], datetime]:
    """``now()`` in UTC on that clock: what the centre's processes read the time from."""
    clock = clock_from(environ)
    return lambda: clock.now().wall.astimezone(UTC)
