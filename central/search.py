"""Transaction search (the rows behind every figure): by branch, business day, counter, teller,
ticket and business type, newest first, at most ``limit`` rows and whether there were more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from central.kpi import Query

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
    limit: int = LIMIT,
) -> tuple[list[dict[str, Any]], bool]:
    """Transactions of the business days ``start..end`` (inclusive) that match every criterion
    given (``branches``: any of them); returns the rows and whether more matched than ``limit``."""
    where = ["business_day >= ?", "business_day <= ?"]
    params: list[Any] = [start.isoformat(), end.isoformat()]
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
