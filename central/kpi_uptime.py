"""开机率's minutes for the KPIs (``central/kpi.py``): powered and business minutes of each
counter's pad over a range of business days, from the daily minutes (``uptime_days``) or, for
whole months, from the monthly ones (``uptime_months``) where those give the same sum.

A counter's pad is the device that served at it (a replaced pad's successor takes its place);
its days count from the first business day one of them served on, to the end of the range or the
branch's today, whichever is earlier; today, its business minutes up to now only (the minute
begun counted, as its heartbeat may be in). A day's powered minutes are those of the counter's
devices from their own first day, at most the day's business minutes (today's configuration).

A month's sum of one device is that sum exactly when the month is the device's alone at its
counter (no other of the counter's devices has minutes in it), the device served before the month
ended (less its minutes on the month's days before it served, sought by key), its minutes were
all counted at its counter's branch, the month ends before the branch's today (or holds no
minutes after it: the month to date), and no device of the branch has more minutes on a day of
the month than the day's business minutes (``uptime_peaks``: hours narrowed since, a day made a
holiday). Otherwise the month's days are read, as are the days at the range's edges.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.rollups import business_minutes
from config.centre import CentreConfig

Query = Callable[[str, Sequence[Any]], Iterable[Sequence[Any]]]


Pad = tuple[str, int, date, str]
"""A pad's branch, counter and first day served (also as text)."""


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


class _Opening:
    """Business minutes per branch and day of ``start..end``, with sums over any part; branches
    with the same time zone, hours and days share them (computed once)."""

    def __init__(self, centre: CentreConfig, start: date, end: date) -> None:
        self.centre, self.start = centre, start
        self.days = _days(start, end)
        self.index = {day.isoformat(): i for i, day in enumerate(self.days)}  # ISO day -> i
        self._minutes: dict[str, list[int]] = {}
        self._sums: dict[str, list[int]] = {}
        self._alike: dict[tuple, tuple[list[int], list[int]]] = {}

    def minutes(self, branch: str) -> list[int]:
        found = self._minutes.get(branch)
        if found is None:
            where = self.centre.branch_or_default(branch)
            info = where.info
            key = (where.time_zone, tuple(sorted(where.hours.items())), info.holidays,
                   info.workdays)  # fmt: skip
            if key not in self._alike:
                each = [business_minutes(where, day) for day in self.days]
                self._alike[key] = (each, [0, *itertools.accumulate(each)])
            found, self._sums[branch] = self._alike[key]
            self._minutes[branch] = found
        return found

    def total(self, branch: str, first: date, last: date) -> int:
        """Business minutes of ``first..last`` (both within the range)."""
        self.minutes(branch)
        sums = self._sums[branch]
        return sums[(last - self.start).days + 1] - sums[(first - self.start).days]


def add_uptime(
    query: Query,
    centre: CentreConfig,
    start: date,
    end: date,
    by: str,
    branches: Sequence[str],
    sums: dict[tuple, Any],
    now: datetime | None,
    months: tuple[str, str] | None,
    edges: list[tuple[date, date]],
) -> None:
    """Add each counter's powered and business minutes to its group of ``sums`` (``by``:
    counter, the bank, else branch); ``months`` (first and last, ``YYYY-MM``) lie wholly in the
    range and may be read from the monthly minutes, ``edges`` are the rest of it."""
    pads: dict[str, Pad] = {}
    for device, branch, counter, first in query(
        "SELECT device_id, branch, counter, first_day FROM counter_devices", ()
    ):
        if not branches or branch in branches:
            pads[device] = (branch, int(counter), date.fromisoformat(first), first)
    firsts: dict[tuple[str, int], date] = {}
    for branch, counter, first, _ in pads.values():
        key = (branch, counter)
        firsts[key] = min(first, firsts.get(key, first))
    stop = end  # a month read whole may end after the range (the month to date)
    if months is not None:
        stop = max(end, _month_end(date.fromisoformat(f"{months[1]}-01")))
    opening = _Opening(centre, start, stop)
    lasts: dict[str, date] = {}
    for branch, _ in firsts:
        last = end
        if now is not None:
            zone = ZoneInfo(centre.branch_or_default(branch).time_zone)
            last = min(end, now.astimezone(zone).date())
        lasts[branch] = last
    counted: Counter[tuple[str, int]] = Counter()  # powered minutes of whole months
    ranges: list[tuple[date, date, set[tuple[str, int]] | None, set[str]]]
    ranges = [(a, b, None, set()) for a, b in edges]
    if months is not None:
        ranges += _months(query, opening, months, pads, firsts, lasts, counted)
    daily: Counter[tuple[str, int, str]] = Counter()
    for lo, hi, only, where in ranges:
        for day_text, device, minutes in _read(query, lo, hi, pads, only, branches, where):
            pad = pads.get(device)
            if pad is not None and day_text >= pad[3] and (only is None or pad[:2] in only):
                daily[(pad[0], pad[1], day_text)] += int(minutes)
    index = opening.index
    for (branch, counter, day_text), minutes in daily.items():
        day = start + timedelta(days=index[day_text])
        if firsts[(branch, counter)] <= day <= lasts[branch]:
            business = opening.minutes(branch)[index[day_text]]
            counted[(branch, counter)] += min(minutes, business)
    so_far: dict[str, int] = {}  # a branch's today within the range: its minutes open so far
    for (branch, counter), first in firsts.items():
        lo, last = max(start, first), lasts[branch]
        if lo > last:
            continue
        business = opening.total(branch, lo, last)
        if now is not None and last == now.astimezone(ZoneInfo(_zone(centre, branch))).date():
            if branch not in so_far:
                whole = opening.minutes(branch)[opening.index[last.isoformat()]]
                # the minute begun counts: its heartbeat may be in already (powered)
                begun = now + timedelta(minutes=1) - timedelta(microseconds=1)
                until = business_minutes(centre.branch_or_default(branch), last, until=begun)
                so_far[branch] = whole - until
            business -= so_far[branch]
        group = sums[{"counter": (branch, counter), "bank": ()}.get(by, (branch,))]
        group.business_minutes += business
        group.powered_minutes += counted[(branch, counter)]


def pad_groups(query: Query, by: str, branches: Sequence[str], end: date) -> set[tuple]:
    """The groups of level ``by`` (counter, the bank, else branch) that :func:`add_uptime`
    would give minutes to: those of the counters whose pads served by ``end``."""
    out: set[tuple] = set()
    for branch, counter in query(
        "SELECT branch, counter FROM counter_devices WHERE first_day <= ?",
        (end.isoformat(),),
    ):
        if not branches or branch in branches:
            out.add({"counter": (branch, int(counter)), "bank": ()}.get(by, (branch,)))
    return out


def _zone(centre: CentreConfig, branch: str) -> str:
    return centre.branch_or_default(branch).time_zone


_IN_CHUNK = 500


def _read(
    query: Query,
    lo: date,
    hi: date,
    pads: dict[str, Pad],
    only: set[tuple[str, int]] | None,
    branches: Sequence[str],
    where: set[str],
) -> Iterable[Sequence[Any]]:
    """The daily minutes of ``lo..hi``: of every pad (of ``branches``, if any), or (``only``)
    of those counters' pads, counted at the branches ``where``."""
    sql = "SELECT day, device_id, minutes FROM uptime_days WHERE "
    devices = sorted(d for d, pad in pads.items() if only is not None and pad[:2] in only)
    if only is None or len(devices) > len(pads) // 2:
        bounds = (lo.isoformat(), hi.isoformat())
        if not branches:
            yield from query(f"{sql}day >= ? AND day <= ?", bounds)
            return
        # the pads of those branches (their minutes wherever they were counted)
        chosen = sorted(pads)
        for i in range(0, len(chosen), _IN_CHUNK):
            part = chosen[i : i + _IN_CHUNK]
            yield from query(
                f"{sql}day >= ? AND day <= ? AND device_id IN ({_marks(part)})", (*bounds, *part)
            )
        return
    # each (day, branch) sought in the key, then its rows of those pads
    days = [d.isoformat() for d in _days(lo, hi)]
    at = sorted(where)
    for i in range(0, len(devices), _IN_CHUNK):
        chunk = devices[i : i + _IN_CHUNK]
        yield from query(
            f"{sql}day IN ({_marks(days)}) AND branch IN ({_marks(at)}) "
            f"AND device_id IN ({_marks(chunk)})",
            (*days, *at, *chunk),
        )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _over(
    query: Query,
    opening: _Opening,
    first: date,
    last: date,
    firsts: dict[tuple[str, int], date],
) -> Iterable[tuple[str, str]]:
    """The (day, branch) of ``first..last`` on which a device of the branch has more minutes
    than the day's business minutes: sought per calendar and day's business minutes (a few
    lists of days), so that only those rows come back."""
    alike: dict[int, tuple[list[int], list[str]]] = {}
    for branch in sorted({b for b, _ in firsts}):
        each = opening.minutes(branch)
        alike.setdefault(id(each), (each, []))[1].append(branch)
    lo, hi = opening.index[first.isoformat()], opening.index[last.isoformat()]
    for each, branches in alike.values():
        days: dict[int, list[str]] = {}
        for i in range(lo, hi + 1):
            days.setdefault(each[i], []).append(opening.days[i].isoformat())
        for minutes, chosen in days.items():
            for j in range(0, len(branches), _IN_CHUNK):
                part = branches[j : j + _IN_CHUNK]
                for day, branch in query(
                    f"SELECT day, branch FROM uptime_peaks WHERE day IN ({_marks(chosen)}) "
                    f"AND branch IN ({_marks(part)}) AND peak > ?",
                    (*chosen, *part, minutes),
                ):
                    yield str(day), str(branch)


def _months(
    query: Query,
    opening: _Opening,
    months: tuple[str, str],
    pads: dict[str, Pad],
    firsts: dict[tuple[str, int], date],
    lasts: dict[str, date],
    counted: Counter[tuple[str, int]],
) -> list[tuple[date, date, set[tuple[str, int]], set[str]]]:
    """Add the months' minutes that the monthly sums give exactly to ``counted``; the months
    (as day ranges) to read day by day, with the counters they are read for and the branches
    their pads' minutes were counted at."""
    # month -> (branch, counter) -> [(device, branch of its minutes, minutes)]
    held: dict[str, dict[tuple[str, int], list[tuple[str, str, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for month, branch, device, minutes in query(
        "SELECT month, branch, device_id, minutes FROM uptime_months "
        "WHERE month >= ? AND month <= ?",
        months,
    ):
        pad = pads.get(device)
        if pad is not None:
            held[month][pad[:2]].append((device, branch, int(minutes)))
    first_day = date.fromisoformat(f"{months[0]}-01")
    last_day = date.fromisoformat(f"{months[1]}-01")
    last_day = (last_day + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    over: set[tuple[str, str]] = set()  # (branch, month) with a day past its business minutes
    for day_text, branch in _over(query, opening, first_day, last_day, firsts):
        over.add((branch, day_text[:7]))
    out = []
    early: dict[date, dict[str, tuple[tuple[str, int], date]]] = {}
    quiet = {  # each branch's last day within the months: no minutes after it in its month?
        last: not query(
            "SELECT 1 FROM uptime_days WHERE day > ? AND day <= ? LIMIT 1",
            (last.isoformat(), _month_end(last).isoformat()),
        )
        for last in set(lasts.values())
        if first_day <= last <= last_day
    }
    month = first_day
    while month <= last_day:
        after = (month + timedelta(days=32)).replace(day=1)
        final = after - timedelta(days=1)
        text = month.strftime("%Y-%m")
        unread: set[tuple[str, int]] = set()
        where: set[str] = set()
        for key, devices in held.get(text, {}).items():  # the counters with minutes
            branch = key[0]
            last = lasts[branch]
            if last < month or final < firsts[key]:
                continue  # not counted at all, month or days
            (device, at, minutes), *others = devices
            served = pads[device][2]
            alone = not others and served < after and at == branch
            whole = final <= last or quiet.get(last, False)  # over, or nothing after today
            if alone and whole and (branch, text) not in over:
                counted[key] += minutes
                if served > month:  # less its minutes before it served, read by day
                    early.setdefault(month, {})[device] = (key, served)
            else:
                unread.add(key)
                where.update(b for _, b, _ in devices)
        if unread:
            out.append((month, final, unread, where))
        month = after
    for month, chosen in early.items():
        _less_early(query, month, chosen, counted)
    return out


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _less_early(
    query: Query,
    month: date,
    chosen: dict[str, tuple[tuple[str, int], date]],
    counted: Counter[tuple[str, int]],
) -> None:
    """Take from ``counted`` the minutes of the month's pads (``chosen``: device -> its counter
    and first day served, in the month) on the month's days before they served (few: a pad
    powered before it served), each day sought in the key."""
    last = max(served for _, served in chosen.values()) - timedelta(days=1)
    days = [d.isoformat() for d in _days(month, last)]
    devices = sorted(chosen)
    for i in range(0, len(devices), _IN_CHUNK):
        chunk = devices[i : i + _IN_CHUNK]
        for day_text, device, minutes in query(
            f"SELECT day, device_id, minutes FROM uptime_days WHERE day IN ({_marks(days)}) "
            f"AND device_id IN ({_marks(chunk)})",
            (*days, *chunk),
        ):
            key, served = chosen[device]
            if day_text < served.isoformat():
                counted[key] -= int(minutes)
