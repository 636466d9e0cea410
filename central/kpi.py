"""KPIs over any period and at any level, as sums of rollups (``central/rollups.py``).

Definitions (docs/kpi.md): 满意率 = ratings in the satisfied levels / ratings given, and adjusted:
the same without the ratings a supervisor disputed (central/followup.py); 评价率 =
finished transactions rated / finished transactions; 差评率 = ratings in the unsatisfied levels /
ratings given; 开机率 = pad minutes powered in business hours / business minutes of the pads.
Rates come with their sample size and, for the rating rates, a 95% Wilson interval; a rate with
nothing to divide is ``None``. Waits are the customer's in the branch (since the ticket's issue)
of every customer called (served or no-show); the 90th percentile comes from the summed
histogram, exact to its 15-second bins below an hour.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from central.kpi_uptime import add_uptime, pad_groups
from central.rollups import COUNTS, bin_bounds
from config.centre import CentreConfig

LEVELS = ("bank", "region", "branch", "counter", "teller", "business_type", "day")
"""``day``: the rows of each business day of the period (a trend), without 开机率."""
UPTIME_LEVELS = ("bank", "region", "branch", "counter")
"""The levels 开机率 applies at (a pad belongs to a counter of a branch, not to a teller)."""
Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes`` out of ``n`` (None when ``n`` is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # it always holds p; the bounds are clamped to it against rounding (1 out of 1: 0.99999...)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def percentile(histogram: Counter[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of the waits in ``histogram`` (bin -> count), interpolated
    within its bin; None for an empty histogram."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank, seen = q * n, 0
    for b in sorted(histogram):
        count = histogram[b]
        if seen + count >= rank:
            lo, hi = bin_bounds(b)
            if math.isinf(hi):
                return lo
            return lo + (hi - lo) * max(rank - seen, 0.0) / count
        seen += count
    return bin_bounds(max(histogram))[0]


@dataclass
class Sums:
    """Summed rollups of one group."""

    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    levels: Counter[int] = field(default_factory=Counter)
    disputed: Counter[int] = field(default_factory=Counter)  # of levels: disputed ratings
    waits: Counter[int] = field(default_factory=Counter)
    powered_minutes: int = 0
    business_minutes: int = 0

    def add(self, other: Sums) -> None:
        for k, v in other.counts.items():
            self.counts[k] += v
        self.levels.update(other.levels)
        self.disputed.update(other.disputed)
        self.waits.update(other.waits)
        self.powered_minutes += other.powered_minutes
        self.business_minutes += other.business_minutes


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _interval(name: str, successes: int, n: int) -> dict[str, float | None]:
    """``<name>_low`` and ``<name>_high``: the rate's 95% Wilson interval (None when ``n`` is 0)."""
    bounds = wilson(successes, n)
    return {f"{name}_low": bounds[0] if bounds else None,
            f"{name}_high": bounds[1] if bounds else None}  # fmt: skip


def kpi_row(sums: Sums, centre: CentreConfig, *, uptime: bool) -> dict[str, Any]:
    """The KPIs of one group's sums (``uptime``: whether 开机率 applies at this level)."""
    c, settings = sums.counts, centre.kpi
    targets = settings.targets
    neutral = settings.neutral_levels
    ratings = sum(n for lv, n in sums.levels.items() if lv not in neutral)  # 满意率's denominator
    satisfied = sum(n for lv, n in sums.levels.items() if lv in settings.satisfied_levels)
    unsatisfied = sum(n for lv, n in sums.levels.items() if lv in settings.unsatisfied_levels)
    disputed = sum(sums.disputed.values())  # adjusted: without the disputed ratings
    adj_ratings = ratings - disputed
    adj_satisfied = satisfied - sum(
        n for lv, n in sums.disputed.items() if lv in settings.satisfied_levels
    )
    called = c["finished"] + c["no_shows"]
    powered = sums.powered_minutes if uptime else None
    uptime_rate = _ratio(sums.powered_minutes, sums.business_minutes) if uptime else None
    row: dict[str, Any] = {
        "finished": int(c["finished"]),
        "rated": int(c["rated"]),
        "ratings": ratings,
        "satisfied": satisfied,
        "unsatisfied": unsatisfied,
        "levels": {str(lv): n for lv, n in sorted(sums.levels.items(), reverse=True)},
        "evaluation_rate": _ratio(c["rated"], c["finished"]),
        **_interval("evaluation", int(c["rated"]), int(c["finished"])),
        "satisfaction_rate": _ratio(satisfied, ratings),
        **_interval("satisfaction", satisfied, ratings),
        "disputed": disputed,
        "satisfaction_rate_adjusted": _ratio(adj_satisfied, adj_ratings),
        **_interval("satisfaction_adjusted", adj_satisfied, adj_ratings),
        "bad_rating_rate": _ratio(unsatisfied, ratings),
        **_interval("bad_rating", unsatisfied, ratings),
        "uptime_rate": uptime_rate,
        "powered_minutes": powered,
        "business_minutes": sums.business_minutes if uptime else None,
        "called": int(called),
        "wait_mean_s": _ratio(c["wait_sum_s"], c["wait_n"]),
        "wait_p90_s": percentile(sums.waits, 0.9),
        "wait_limited": int(c["wait_limited"]),  # 等候达标率's denominator
        "wait_within_limit_rate": _ratio(c["wait_within"], c["wait_limited"]),
        **_interval("wait_within_limit", int(c["wait_within"]), int(c["wait_limited"])),
        "wait_over": int(c["wait_over"]),
        "service_mean_s": _ratio(c["service_sum_s"], c["service_n"]),
        "service_over": int(c["service_over"]),
        "service_over_rate": _ratio(c["service_over"], c["service_limited"]),
        **_interval("service_over", int(c["service_over"]), int(c["service_limited"])),
        "over_limit": int(c["over_any"]),
        "no_shows": int(c["no_shows"]),
        "no_show_rate": _ratio(c["no_shows"], called),
        **_interval("no_show", int(c["no_shows"]), int(called)),
        "transferred": int(c["transferred"]),
        "expired": int(c["expired"]),
        "unrated": int(c["unrated"]),
        "window_cut": int(c["window_cut"]),
        "inexact": int(c["inexact"]),
        "per_counter_hour": _ratio(c["finished"], sums.powered_minutes / 60) if uptime else None,
        "idle_minutes": c["idle_s"] / 60,
        "idle_alerts": int(c["idle_alerts"]),
        "pause_minutes": c["pause_s"] / 60,
        "pauses": int(c["pauses"]),
    }
    row["meets"] = {
        "satisfaction": _meets(row["satisfaction_rate"], targets.satisfaction, at_least=True),
        "satisfaction_adjusted": _meets(
            row["satisfaction_rate_adjusted"], targets.satisfaction, at_least=True
        ),
        "evaluation": _meets(row["evaluation_rate"], targets.evaluation, at_least=True),
        "uptime": _meets(uptime_rate, targets.uptime, at_least=True),
        "bad_rating": _meets(row["bad_rating_rate"], targets.bad_rating, at_least=False),
        "wait_within_limit": _meets(
            row["wait_within_limit_rate"], targets.wait_within_limit, at_least=True
        ),
    }
    return row


def _meets(value: float | None, target: float | None, *, at_least: bool) -> bool | None:
    if value is None or target is None:
        return None
    # a rate of whole counts compared with a decimal target: allow for float rounding
    return value >= target - 1e-12 if at_least else value <= target + 1e-12


# -- reading the rollups -------------------------------------------------------------------------

Query = Callable[[str, Sequence[Any]], Iterable[Sequence[Any]]]
"""Runs a SELECT with parameters, yields its rows."""

_GROUP = {
    "bank": (),  # summed in the database
    "region": ("branch",),
    "branch": ("branch",),
    "counter": ("branch", "counter"),
    "teller": ("branch", "teller"),
    "business_type": ("business_type",),
    "day": ("day",),
}


COARSE_LEVELS = ("bank", "region", "branch")
"""The levels that read whole months from the coarse rollups (keyed by month and branch); they
and the ``day`` level read single days from the rollups per day and branch."""
DESK_LEVELS = ("counter", "teller")
"""The levels that read whole months from the rollups per month, branch, counter and teller."""
DAILY = ("rollups", "rollup_levels", "rollup_waits")
BRANCH_DAILY = ("branch_days", "branch_day_levels", "branch_day_waits")


def whole_months(start: date, end: date) -> tuple[tuple[str, str] | None, list[tuple[date, date]]]:
    """The calendar months lying wholly in ``start..end`` (first and last, ``YYYY-MM``; None
    if none) and the day ranges left at its edges."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end)  # the first day after the last whole month ...
    last = after if after - timedelta(days=1) == end else end.replace(day=1)
    if first >= last:
        return None, [(start, end)]
    edges = [(start, first - timedelta(days=1))] if start < first else []
    if last <= end:
        edges.append((last, end))
    final = last - timedelta(days=1)
    return (first.strftime("%Y-%m"), final.strftime("%Y-%m")), edges


def whole_years(months: tuple[str, str]) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
    """The calendar years lying wholly in the months ``first..last`` (``YYYY-MM``; first and
    last year, ``YYYY``, or None) and the month ranges left at their edges."""
    first, last = int(months[0][:4]), int(months[1][:4])
    if months[0][5:] != "01":
        first += 1
    if months[1][5:] != "12":
        last -= 1
    if first > last:
        return None, [months]
    rest = []
    if months[0] < f"{first}-01":
        rest.append((months[0], f"{first - 1}-12"))
    if months[1] > f"{last}-12":
        rest.append((f"{last + 1}-01", months[1]))
    return (str(first), str(last)), rest


def _periods(period: str, lo: str, hi: str) -> list[str]:
    """Every day (``YYYY-MM-DD``), month (``YYYY-MM``) or year (``YYYY``) of ``lo..hi``."""
    if period == "year":
        return [str(y) for y in range(int(lo), int(hi) + 1)]
    if period == "month":
        first, last = date.fromisoformat(f"{lo}-01"), date.fromisoformat(f"{hi}-01")
        out = []
        while first <= last:
            out.append(first.strftime("%Y-%m"))
            first = _next_month(first)
        return out
    first, last = date.fromisoformat(lo), date.fromisoformat(hi)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _quiet_after(query: Query, table: str, end: date) -> bool:
    """Whether ``table`` (of a ``day`` column first in its key) holds nothing after ``end`` in
    ``end``'s month: the month to date is then the whole month of the coarse rollups."""
    last = _next_month(end) - timedelta(days=1)
    if end >= last:
        return True
    found = query(
        f"SELECT 1 FROM {table} WHERE day > ? AND day <= ? LIMIT 1",
        (end.isoformat(), last.isoformat()),
    )
    return not list(found)


def _to_date(
    start: date, end: date, quiet: bool
) -> tuple[tuple[str, str] | None, list[tuple[date, date]]]:
    """:func:`whole_months` of ``start..end``, where ``end``'s month counts as whole when
    nothing is stored after ``end`` in it (``quiet``) and the range holds its first day: the
    dashboard's default period, this month to today, is one row per branch."""
    if not quiet or end.replace(day=1) < start:
        return whole_months(start, end)
    months, edges = whole_months(start, _next_month(end) - timedelta(days=1))
    if months is None:
        return None, [(start, end)]
    return months, [(a, min(b, end)) for a, b in edges if a <= end]


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def group_sums(
    query: Query,
    centre: CentreConfig,
    start: date,
    end: date,
    by: str,
    *,
    branches: Sequence[str] = (),
    now: datetime | None = None,
    coarse: bool = True,
    business_type: str | None = None,
    waits: bool = True,
    uptime: bool = True,
) -> dict[tuple, Sums]:
    """Summed rollups per group of level ``by`` over the business days ``start..end``
    (inclusive), optionally of some branches only, of one business type only (开机率, a pad's,
    stays that of every business type); ``now`` ends 开机率's days at today. The bank, region
    and branch levels read the months lying wholly in the range from the coarse rollups and the
    days at its edges from the sums per day and branch, as the day level reads its days; the
    counter and teller levels read whole months from the sums per month and desk (counter x
    teller) and the edges' days from the daily rollups (``coarse=False``, or one business
    type: every day from the daily rollups; the sums are the same); 开机率 reads whole months
    of each pad's minutes at every level. ``waits=False`` leaves the histogram of waits unread
    (no 90th percentile: a trend that does not show it), ``uptime=False`` the pads' minutes (no
    开机率)."""
    if by not in _GROUP:
        raise ValueError(f"--by must be one of {', '.join(LEVELS)}, not {by!r}")
    if start > end:
        return {}  # no day at all (and no empty IN list for the database)
    cols = _GROUP[by]
    only, params = "", []
    if branches:
        only = f" AND branch IN ({', '.join('?' * len(branches))})"
        params = list(branches)
    if business_type is not None:
        only += " AND business_type = ?"
        params.append(business_type)
    if by in ("counter", "teller"):
        only += " AND counter <> 0" if by == "counter" else " AND teller <> ''"
    if by == "business_type":
        only += " AND business_type <> ''"
    uptime_months = (
        _to_date(start, end, _quiet_after(query, "uptime_days", end)) if coarse
        else (None, [(start, end)])
    )  # fmt: skip
    if business_type is not None:  # the coarse rollups are of every business type together
        coarse = False
    monthly = coarse and by in (*COARSE_LEVELS, *DESK_LEVELS)
    months, edges = (None, [(start, end)])
    if monthly:
        months, edges = _to_date(start, end, _quiet_after(query, "branch_days", end))
    daily: tuple[str, str, str | None] = DAILY
    if coarse and by in (*COARSE_LEVELS, "day"):
        daily = BRANCH_DAILY  # a row per branch and day
    if not waits:
        daily = (daily[0], daily[1], None)
    sources: list[tuple[str | None, str | None, str | None, str, tuple[str, str]]] = [
        (*daily, "day", (a.isoformat(), b.isoformat())) for a, b in edges
    ]
    if months is not None and by in DESK_LEVELS:
        desk_waits = "desk_month_waits" if waits else None
        sources.append(("desk_months", "desk_month_levels", desk_waits, "month", months))
    elif months is not None:
        # the waits of whole years from their own histogram (a year of months holds some
        # 230 bins x 12 per branch, which a database sorts slowly)
        years, rest = whole_years(months)
        sources.append(("month_rollups", "month_levels", None, "month", months))
        if waits:
            sources += [(None, None, "month_waits", "month", part) for part in rest]
            if years is not None:
                sources.append((None, None, "year_waits", "year", years))
    keys = ", ".join(cols)
    sums: dict[tuple, Sums] = defaultdict(Sums)
    summed = ", ".join(f"sum({c})" for c in COUNTS)
    for counted, levels, histogram, period, (lo, hi) in sources:
        where, bound = f"{period} >= ? AND {period} <= ?{only}", [lo, hi, *params]
        if branches:
            # each (period, branch) sought in the keys (period first), not every branch's rows
            # of the range scanned: a branch's year is a 200th of the bank's
            each = _periods(period, lo, hi)
            where, bound = f"{period} IN ({', '.join('?' * len(each))}){only}", [*each, *params]
        if counted is not None:
            grouped = f" GROUP BY {keys}" if keys else ""
            sql = f"SELECT {_lead(keys)}{summed} FROM {counted} WHERE {where}{grouped}"
            for row in query(sql, bound):
                if row[len(cols)] is None:
                    continue  # the bank's sums (no GROUP BY) of no rows at all
                counts = sums[tuple(row[: len(cols)])].counts
                # PostgreSQL sums integers as numeric (Decimal)
                for name, v in zip(COUNTS, row[len(cols) :], strict=True):
                    counts[name] += float(v) if name.endswith("_s") else int(v)
        for table, column, target in ((levels, "level", "levels"), (histogram, "bin", "waits")):
            if table is not None:
                _add_counts(query, table, column, keys, where, bound, sums, target)
    where = f"day >= ? AND day <= ?{only}"
    bound = [start.isoformat(), end.isoformat(), *params]
    # a view of central/followup.py: the disputed ratings, few, by day
    _add_counts(query, "rollup_disputed", "level", keys, where, bound, sums, "disputed")
    if by in UPTIME_LEVELS and not uptime:
        for group in pad_groups(query, by, branches, end):  # shown as with 开机率, at zero
            sums.setdefault(group, Sums())
    elif by in UPTIME_LEVELS:
        add_uptime(query, centre, start, end, by, branches, sums, now, *uptime_months)
    return _regroup(sums, centre, by)


def _add_counts(
    query: Query,
    table: str,
    column: str,
    keys: str,
    where: str,
    params: Sequence[Any],
    sums: dict[tuple, Sums],
    target: str,
) -> None:
    """Add ``sum(n)`` per group and ``column`` (level, bin) of ``table`` to ``sums``."""
    width = len(keys.split(", ")) if keys else 0
    lead = _lead(keys)
    sql = f"SELECT {lead}{column}, sum(n) FROM {table} WHERE {where} GROUP BY {lead}{column}"
    for row in query(sql, params):
        getattr(sums[tuple(row[:width])], target)[int(row[width])] += int(row[-1])


def _lead(keys: str) -> str:
    """The group's columns before the others in a SELECT or GROUP BY (none: the bank)."""
    return f"{keys}, " if keys else ""


def _regroup(sums: dict[tuple, Sums], centre: CentreConfig, by: str) -> dict[tuple, Sums]:
    """Branch sums to regions (every level of a branch's region path)."""
    if by != "region":
        return dict(sums)
    out: dict[tuple, Sums] = defaultdict(Sums)
    for (branch,), s in sums.items():
        for region in centre.branch_or_default(branch).regions or ("",):
            out[(region,)].add(s)
    return dict(out)


def kpis(
    query: Query,
    centre: CentreConfig,
    start: date,
    end: date,
    by: str,
    *,
    branches: Sequence[str] = (),
    now: datetime | None = None,
    coarse: bool = True,
    business_type: str | None = None,
    waits: bool = True,
    uptime: bool = True,
) -> list[dict[str, Any]]:
    """KPI rows of level ``by`` over ``start..end`` (inclusive), sorted by their keys; the
    bank level always has its one row, with zero counts and null rates when there is no data.
    ``now``: 开机率 counts business minutes up to the branch's today, not beyond; ``coarse``:
    see :func:`group_sums`; ``business_type``: of that business type only; ``waits=False``:
    without the 90th percentile of waits (``wait_p90_s`` None); ``uptime=False``: without
    开机率 (its fields None)."""
    sums = group_sums(
        query, centre, start, end, by, branches=branches, now=now, coarse=coarse,
        business_type=business_type, waits=waits, uptime=uptime,
    )  # fmt: skip
    if by == "bank" and not sums:
        sums = {(): Sums()}
    names = _names(query, by)
    rows = []
    for group in sorted(sums, key=lambda g: tuple(str(x) for x in g)):
        row: dict[str, Any] = _keys(by, group, centre, names)
        row.update(kpi_row(sums[group], centre, uptime=uptime and by in UPTIME_LEVELS))
        rows.append(row)
    return rows


def _names(query: Query, by: str) -> dict[tuple[str, str], str]:
    if by != "teller":
        return {}
    return {(b, t): n for b, t, n in query("SELECT branch, teller, name FROM tellers", ())}


def _keys(
    by: str, group: tuple, centre: CentreConfig, names: dict[tuple[str, str], str]
) -> dict[str, Any]:
    if by == "bank":
        return {}
    if by == "region":
        return {"region": group[0]}
    if by == "business_type":
        return {"business_type": group[0]}
    if by == "day":
        return {"day": group[0]}
    branch = centre.branch(group[0])
    keys: dict[str, Any] = {
        "branch": group[0],
        "branch_name": branch.info.name if branch else None,
    }
    if by == "counter":
        keys["counter"] = group[1]
    if by == "teller":
        keys["teller"] = group[1]
        keys["teller_name"] = names.get((group[0], group[1]))
        keys["on_roster"] = (
            None if branch is None or not branch.roster
            else any(m.staff_no == group[1] for m in branch.roster)
        )  # fmt: skip
    return keys
