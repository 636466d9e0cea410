"""Time of day x day of week (issue 10): the customers' waits and 满意率 by the hour a ticket
was issued (the customer's arrival; the close for a ticketless transaction) and the weekday of
its business day, from the transactions table, so a branch sees when its queue and its ratings
suffer. Waits as the KPIs take them (``central.kpi``): the wait in the branch of every customer
called (served or no-show); 满意率 with its Wilson interval and n, over the ratings given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from central.kpi import Query, wilson
from config.centre import CentreConfig

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
HOUR = "substr(coalesce(issued_at, closed_at), 12, 2)"
"""A transaction's hour of arrival (of its ticket's issue, else its close), two digits, in SQL."""


@dataclass
class _Cell:
    called: int = 0
    wait_sum_s: float = 0.0
    levels: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def heatmap(
    query: Query,
    centre: CentreConfig,
    start: date,
    end: date,
    *,
    branches: Sequence[str] = (),
    business_type: str | None = None,
) -> list[dict[str, Any]]:
    """One row per weekday (0 Monday) x hour with customers: ``called``, ``wait_mean_s``,
    ``ratings``, ``satisfaction_rate`` with ``satisfaction_low``/``_high``."""
    where, params = ["business_day >= ?", "business_day <= ?"], [start.isoformat(), end.isoformat()]
    if branches:
        where.append(f"branch IN ({', '.join('?' * len(branches))})")
        params += list(branches)
    if business_type is not None:
        where.append("business_type = ?")
        params.append(business_type)
    hour = HOUR
    cells: dict[tuple[int, int], _Cell] = defaultdict(_Cell)
    called = " AND ".join(
        [*where, "outcome IN ('served', 'no_show')", "total_waiting_s IS NOT NULL"]
    )
    for day, h, n, waited in query(
        f"SELECT business_day, {hour}, count(*), sum(total_waiting_s) FROM transactions "
        f"WHERE {called} GROUP BY business_day, {hour}",
        params,
    ):
        cell = cells[(date.fromisoformat(day).weekday(), int(h))]
        cell.called += int(n)
        cell.wait_sum_s += float(waited)
    rated = " AND ".join([*where, "outcome = 'served'", "rating IS NOT NULL"])
    for day, h, level, n in query(
        f"SELECT business_day, {hour}, rating, count(*) FROM transactions "
        f"WHERE {rated} GROUP BY business_day, {hour}, rating",
        params,
    ):
        cells[(date.fromisoformat(day).weekday(), int(h))].levels[int(level)] += int(n)
    kpi = centre.kpi
    rows = []
    for (weekday, h), cell in sorted(cells.items()):
        ratings = sum(n for lv, n in cell.levels.items() if lv not in kpi.neutral_levels)
        satisfied = sum(n for lv, n in cell.levels.items() if lv in kpi.satisfied_levels)
        ci = wilson(satisfied, ratings)
        rows.append(
            {
                "weekday": weekday,
                "weekday_name": f"周{WEEKDAYS[weekday]}",
                "hour": h,
                "called": cell.called,
                "wait_mean_s": cell.wait_sum_s / cell.called if cell.called else None,
                "ratings": ratings,
                "satisfied": satisfied,
                "satisfaction_rate": satisfied / ratings if ratings else None,
                "satisfaction_low": ci[0] if ci else None,
                "satisfaction_high": ci[1] if ci else None,
            }
        )
    return rows
