"""Transaction search (the rows behind every figure): by branch, business day, counter, teller,
ticket and business type, rating and outcome, and the cells of the dashboard's other figures
(weekday x hour of arrival, waiting band, service within or over its limit), newest first, at
most ``limit`` rows and whether there were more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from central.heatmap import HOUR
from central.kpi import Query
from central.rollups import WAIT_BANDS

COLUMNS = (
    "business_day", "branch", "counter", "teller", "teller_name", "ticket", "business_type",
    "outcome", "total_waiting_s", "wait_over_limit", "service_s", "service_over_limit",
    "rating", "rating_label", "rating_status", "closed_at", "transaction_id",
)  # fmt: skip
LIMIT = 500


def search_transactions(
    query: Query,
    start: date,
    end: date,
    *,
    branches: Sequence[str] = (),
    counter: int | None = None,
    teller: str | None = None,
    ticket: str | None = None,
    business_type: str | None = None,
    rating: int | None = None,
    outcome: str | None = None,
    rating_status: str | None = None,
    called: bool = False,
    limited: bool = False,
    scored: bool = False,
    neutral: Sequence[int] = (),
    weekday: int | None = None,
    hour: int | None = None,
    wait_band: int | None = None,
    service: int | None = None,
    over: bool = False,
    limit: int = LIMIT,
) -> tuple[list[dict[str, Any]], bool]:
    """Transactions of the business days ``start..end`` (inclusive) that match every criterion
    given (``branches``: any of them); returns the rows and whether more matched than ``limit``.
    ``called``: customers called, with their wait (served or no-show: the waits' figures);
    ``limited``: with a waiting limit (等候达标率's n, with ``called``); ``scored``: the ratings
    满意率 counts (served, rated, not of a ``neutral`` level); ``weekday`` (0 Monday) and
    ``hour`` of arrival as ``central.heatmap`` takes them; ``wait_band``: an index of
    ``WAIT_BANDS``; ``service``: -1 no limit, 0 within, 1 over it (``central.timing``'s
    dimensions, whose ratings all have a wait); ``over``: finished with the wait or the
    service over its limit (the KPIs' ``over_limit``)."""
    where = ["business_day >= ?", "business_day <= ?"]
    params: list[Any] = [start.isoformat(), end.isoformat()]
    if called:
        where.append("outcome IN ('served', 'no_show') AND total_waiting_s IS NOT NULL")
    if limited:
        where.append("wait_limit_s IS NOT NULL")
    if scored:
        where.append("outcome = 'served' AND rating IS NOT NULL")
        if neutral:
            where.append(f"rating NOT IN ({', '.join('?' * len(neutral))})")
            params += [int(level) for level in neutral]
    if over:
        where.append("outcome = 'served' AND (wait_over_limit = 1 OR service_over_limit = 1)")
    if weekday is not None:  # the period's days of that weekday (the same in every dialect)
        first = start + timedelta(days=(weekday - start.weekday()) % 7)
        days = [first + timedelta(days=7 * i) for i in range(max(0, (end - first).days // 7 + 1))]
        where.append(f"business_day IN ({', '.join('?' * len(days))})" if days else "1 = 0")
        params += [d.isoformat() for d in days]
    if hour is not None:
        where.append(f"{HOUR} = ?")
        params.append(f"{hour:02d}")
    if wait_band is not None:
        lo, hi = WAIT_BANDS[wait_band]
        where.append("total_waiting_s >= ?" + (" AND total_waiting_s < ?" if hi else ""))
        params += [lo, hi] if hi else [lo]
    if service is not None:
        where.append(
            "total_waiting_s IS NOT NULL AND "
            + ("service_limit_s IS NULL" if service < 0
               else "service_limit_s IS NOT NULL AND service_over_limit = ?")
        )  # fmt: skip
        params += [] if service < 0 else [int(service)]
    if branches:
        where.append(f"branch IN ({', '.join('?' * len(branches))})")
        params += list(branches)
    for column, value in (
        ("counter", counter),
        ("teller", teller),
        ("ticket", ticket),
        ("business_type", business_type),
        ("rating", rating),
        ("outcome", outcome),
        ("rating_status", rating_status),
    ):
        if value is not None and value != "":
            where.append(f"{column} = ?")
            params.append(value)
    rows = query(
        f"SELECT {', '.join(COLUMNS)} FROM transactions WHERE {' AND '.join(where)} "
        f"ORDER BY business_day DESC, closed_at DESC, transaction_id LIMIT {int(limit) + 1}",
        params,
    )
    found = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    for row in found:
        for flag in ("wait_over_limit", "service_over_limit"):
            row[flag] = bool(row[flag])
    return found[:limit], len(found) > limit
