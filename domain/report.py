"""Transactions with their timings and limits, derived from stored events (no I/O)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.events import StoredEvent, TransactionClosed


@dataclass(frozen=True)
class TransactionRow:
    closed_at: datetime  # local time of the branch
    counter: int
    teller: str
    teller_name: str
    ticket: str | None
    business_type: str
    outcome: str
    waiting_s: float | None  # this leg: from queueing (issue or transfer) to the first call
    total_waiting_s: float | None  # in the branch: from the ticket's issue (held to the limit)
    wait_limit_s: float | None
    wait_over_limit: bool
    waiting_exact: bool  # False: the wait spans a power cut (an estimate, at least this long)
    service_s: float | None  # to the finish, or to the transfer
    service_limit_s: float | None
    service_over_limit: bool
    service_exact: bool
    band_name: str | None  # the amount band chosen, whose limit applied
    extension_reason: str | None  # why the service was allowed longer
    limit_raised_after_alert: bool  # band or extension chosen after the over-limit warning
    rating: int | None
    rating_label: str | None
    rating_status: str
    transaction_id: str
    device_id: str
    seq: int

    def to_csv_row(self) -> dict:
        row = asdict(self)
        row["closed_at"] = self.closed_at.isoformat()
        return row


FIELDS = list(TransactionRow.__dataclass_fields__)


def transactions(events: Iterable[StoredEvent], timezone: str) -> list[TransactionRow]:
    """One row per ``transaction.closed`` event, in the order they were stored."""
    tz = ZoneInfo(timezone)
    rows = []
    for e in events:
        p = e.payload
        if not isinstance(p, TransactionClosed):
            continue
        rows.append(
            TransactionRow(
                closed_at=e.wall.astimezone(tz),
                counter=p.counter,
                teller=p.teller,
                teller_name=p.teller_name,
                ticket=p.ticket,
                business_type=p.business_type,
                outcome=p.outcome,
                waiting_s=p.waiting_s,
                total_waiting_s=p.total_waiting_s if p.total_waiting_s is not None else p.waiting_s,
                wait_limit_s=p.limits.wait_s,
                wait_over_limit=p.wait_over_limit,
                waiting_exact=p.waiting_exact and p.exact,
                service_s=p.service_s,
                service_limit_s=p.limits.service_s,
                service_over_limit=p.service_over_limit,
                service_exact=p.service_exact and p.exact,
                band_name=p.band_name,
                extension_reason=p.extension_reason,
                limit_raised_after_alert=p.limit_raised_after_alert,
                rating=p.rating,
                rating_label=p.rating_label,
                rating_status=p.rating_status,
                transaction_id=p.transaction_id,
                device_id=e.device_id,
                seq=e.seq,
            )
        )
    return rows


def minutes(seconds: float | None) -> str:
    """``125.4`` -> ``"2:05"``; missing -> ``"-"``."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


HEADERS = (
    "time",
    "ctr",
    "teller",
    "ticket",
    "type",
    "outcome",
    "wait/limit",
    "service/limit",
    "rating",
)


def render_table(rows: list[TransactionRow]) -> str:
    """A fixed-width table; ``!`` marks a time over its limit, ``~`` one that spans a power cut
    (an estimate). The wait is the customer's in the branch (since issue, across transfers).
    CJK text is counted double-wide."""
    cells = [HEADERS]
    for r in rows:
        wait_mark = ("" if r.waiting_exact else "~") + ("!" if r.wait_over_limit else "")
        service_mark = ("" if r.service_exact else "~") + ("!" if r.service_over_limit else "")
        rating = f"{r.rating} {r.rating_label}" if r.rating is not None else r.rating_status
        cells.append(
            (
                r.closed_at.strftime("%H:%M:%S"),
                str(r.counter),
                f"{r.teller} {r.teller_name}".strip(),
                r.ticket or "(none)",
                r.business_type,
                r.outcome,
                f"{minutes(r.total_waiting_s)}/{minutes(r.wait_limit_s)}{wait_mark}",
                f"{minutes(r.service_s)}/{minutes(r.service_limit_s)}{service_mark}",
                rating,
            )
        )
    widths = [max(_width(row[i]) for row in cells) for i in range(len(HEADERS))]
    lines = [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rated = [r for r in rows if r.rating is not None]
    served = [r for r in rows if r.outcome == "served"]
    lines.append("")
    lines.append(
        f"{len(rows)} transactions, {len(served)} served, {len(rated)} rated, "
        f"{sum(r.wait_over_limit for r in rows)} over the waiting limit, "
        f"{sum(r.service_over_limit for r in rows)} over the service limit"
        + (f", {inexact} spanning a power cut (~)" if (inexact := _inexact(rows)) else "")
    )
    return "\n".join(lines)


def _inexact(rows: list[TransactionRow]) -> int:
    return sum(not (r.waiting_exact and r.service_exact) for r in rows)
