"""China's working days, for deadlines counted in working days (差评回访: 15 working days).

A working day is Monday to Friday, less China's public holidays, plus the weekend days worked
in their place (调休), as the State Council announces them each year: the ``chinese-calendar``
package holds them from 2004 to its latest year (one release a year, soon after the November
announcement). Over it come the bank's own days (``[followup] holidays`` and ``workdays``), and
over those the branch's (its ``holidays`` and ``workdays``)::

    >>> calendar = WorkCalendar()
    >>> calendar.is_workday(date(2026, 10, 8)), calendar.is_workday(date(2026, 10, 10))
    (True, True)
    >>> calendar.after(date(2026, 9, 30), 3)    # National Day: 1-7 October off, 10th worked
    Deadline(day=datetime.date(2026, 10, 10), provisional=False)

A day of a year the package does not know counts as Monday to Friday: a deadline that crosses
such a day is *provisional*, to be computed again once the year is known (a newer package, or
the year's days listed in ``[followup]``: then ``counterside centre followup redate``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from config.centre import Branch, CentreConfig

MAX_DAYS = 10 * 366
"""A count of working days that would run past this many calendar days is refused."""


@dataclass(frozen=True)
class Deadline:
    """The last day something is due; ``provisional``: a day counted lacked its year's
    holiday schedule (counted as Monday to Friday)."""

    day: date
    provisional: bool


@functools.cache
def _official(day: date) -> bool | None:
    """Whether ``day`` is a working day in China, or None for a year the package lacks."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


Days = tuple[Iterable[date], Iterable[date]]
"""Holidays and workdays."""


class WorkCalendar:
    """Working days: China's, then the bank's ``holidays`` and ``workdays``, then the branch's
    (``local``). A year the bank's days name counts as known: the bank gave its schedule."""

    def __init__(self, bank: Days = ((), ()), local: Days = ((), ())) -> None:
        self._own: dict[date, bool] = {}
        self._years: set[int] = set()
        for i, (holidays, workdays) in enumerate((bank, local)):
            off, on = tuple(holidays), tuple(workdays)
            self._own.update(dict.fromkeys(off, False))
            self._own.update(dict.fromkeys(on, True))
            if i == 0:
                self._years |= {d.year for d in (*off, *on)}

    @classmethod
    def of(cls, centre: CentreConfig, branch: Branch) -> WorkCalendar:
        """The calendar of ``branch``: China's, the bank's days, then the branch's own."""
        bank = centre.followup
        return cls((bank.holidays, bank.workdays), (branch.info.holidays, branch.info.workdays))

    def known(self, day: date) -> bool:
        """Whether ``day`` is known: its year's schedule is in the package or the bank's days,
        or the day is one of the branch's own."""
        return day in self._own or day.year in self._years or _official(day) is not None

    def is_workday(self, day: date) -> bool:
        own = self._own.get(day)
        if own is not None:
            return own
        official = _official(day)
        return day.weekday() < 5 if official is None else official

    def after(self, start: date, n: int) -> Deadline:
        """The ``n``-th working day after ``start`` (the day of ``start`` itself does not
        count, as with any period counted in days)."""
        if n < 1:
            raise ValueError(f"a count of working days must be at least 1, not {n}")
        day, left, provisional = start, n, False
        while left:
            day += timedelta(days=1)
            if (day - start).days > MAX_DAYS:
                raise ValueError(f"no {n} working days within {MAX_DAYS} days after {start}")
            provisional = provisional or not self.known(day)
            left -= self.is_workday(day)
        return Deadline(day, provisional)

    def count(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is
        before ``start``: the working days from ``end`` after, up to ``start``)."""
        if end < start:
            return -self.count(end, start)
        return sum(
            self.is_workday(start + timedelta(days=i)) for i in range(1, (end - start).days + 1)
        )
