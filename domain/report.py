"""Transactions with their timings and limits, derived from stored events (no I/O)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.clock import Instant
from domain.events import (
    EventType,
    StoredEvent,
    TicketCancelled,
    TicketExpired,
    TransactionClosed,
)


@dataclass(frozen=True)
class TransactionRow:
    """One ticket's leg at a counter (a ``transaction.closed``), or a ticket that never reached
    one (``ticket.expired`` at the day's end, ``ticket.cancelled``: no counter, no teller).

    The same rows feed the device's ``counterside export transactions`` and the centre's
    transactions table (``central/transactions.py``): one derivation, never a second copy.
    Times are the branch's local time (``timezone``)."""

    closed_at: datetime  # local time of the branch
    counter: int | None  # None: the ticket never reached a counter
    teller: str | None  # staff number (工号)
    teller_name: str
    ticket: str | None
    business_type: str
    outcome: str  # served, no_show, transferred; expired, cancelled (never called)
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
    rating_status: str  # rated, unrated, not_invited
    rating_delay_s: float | None  # from the invitation (the finish) to the rating
    transaction_id: str  # the transaction's id; for a ticket never called, the event's id
    device_id: str
    seq: int
    business_day: date
    priority: str | None
    issued_at: datetime | None
    called_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    rated_at: datetime | None
    calls: int
    event_id: str

    def to_csv_row(self) -> dict:
        row = asdict(self)
        for name, value in row.items():
            if isinstance(value, datetime | date):
                row[name] = value.isoformat()
        return row


FIELDS = list(TransactionRow.__dataclass_fields__)
ROW_TYPES = frozenset(
    {EventType.TRANSACTION_CLOSED, EventType.TICKET_EXPIRED, EventType.TICKET_CANCELLED}
)
"""The event types that make a row."""


def transactions(events: Iterable[StoredEvent], timezone: str) -> list[TransactionRow]:
    """One row per ``transaction.closed``, ``ticket.expired`` or ``ticket.cancelled`` event, in
    the order they were stored."""
    tz = ZoneInfo(timezone)
    return [row for e in events if (row := transaction_row(e, tz)) is not None]


def _local(at: Instant | None, tz: ZoneInfo) -> datetime | None:
    return at.wall.astimezone(tz) if at is not None else None


def transaction_row(e: StoredEvent, tz: ZoneInfo) -> TransactionRow | None:
    """The row of one stored event, or None if the event makes no row. Each row depends on its
    own event alone, so rows come out the same whatever order (or how often) events arrive."""
    p = e.payload
    closed_at = e.wall.astimezone(tz)
    if isinstance(p, TicketExpired | TicketCancelled):
        t = p.ticket
        waited = p.waited_s if isinstance(p, TicketExpired) else None
        return TransactionRow(
            closed_at=closed_at,
            counter=None,
            teller=None,
            teller_name="",
            ticket=t.number,
            business_type=t.business_type,
            outcome="expired" if isinstance(p, TicketExpired) else "cancelled",
            waiting_s=waited,
            total_waiting_s=waited,
            wait_limit_s=None,
            wait_over_limit=False,
            waiting_exact=True,
            service_s=None,
            service_limit_s=None,
            service_over_limit=False,
            service_exact=True,
            band_name=None,
            extension_reason=None,
            limit_raised_after_alert=False,
            rating=None,
            rating_label=None,
            rating_status="not_invited",
            rating_delay_s=None,
            transaction_id=e.id,
            device_id=e.device_id,
            seq=e.seq,
            business_day=t.business_day,
            priority=t.priority,
            issued_at=_local(t.issued_at, tz),
            called_at=None,
            started_at=None,
            finished_at=None,
            rated_at=None,
            calls=0,
            event_id=e.id,
        )
    if not isinstance(p, TransactionClosed):
        return None
    info, line = p.ticket_info, p.timeline
    return TransactionRow(
        closed_at=closed_at,
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
        rating_delay_s=p.rating_delay_s,
        transaction_id=p.transaction_id,
        device_id=e.device_id,
        seq=e.seq,
        business_day=info.business_day if info is not None else closed_at.date(),
        priority=info.priority if info is not None else None,
        issued_at=_local(info.issued_at, tz) if info is not None else None,
        called_at=_local(line.called, tz),
        started_at=_local(line.started, tz),
        finished_at=_local(line.ended, tz),
        rated_at=_local(line.rated, tz),
        calls=p.calls,
        event_id=e.id,
    )


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


def fixed_width(cells: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a fixed-width table whose first row is the header (underlined); CJK text is
    counted double-wide."""
    widths = [max(_width(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


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
                str(r.counter) if r.counter is not None else "-",
                f"{r.teller or ''} {r.teller_name}".strip() or "-",
                r.ticket or "(none)",
                r.business_type,
                r.outcome,
                f"{minutes(r.total_waiting_s)}/{minutes(r.wait_limit_s)}{wait_mark}",
                f"{minutes(r.service_s)}/{minutes(r.service_limit_s)}{service_mark}",
                rating,
            )
        )
    lines = fixed_width(cells)
    rated = [r for r in rows if r.rating is not None]
    served = [r for r in rows if r.outcome == "served"]
    lines.append("")
    lines.append(
        f"{len(rows)} transactions, {len(served)} served, {len(rated)} rated, "
        f"{sum(r.wait_over_limit for r in rows)} over the waiting limit, "
        f"{sum(r.service_over_limit for r in rows)} over the service limit"
        + (f", {inexact} spanning a power cut (~)" if (inexact := _inexact(rows)) else "")
        + (f", {gone} never called (expired or cancelled)" if (gone := _never_called(rows)) else "")
    )
    return "\n".join(lines)


def _inexact(rows: list[TransactionRow]) -> int:
    return sum(not (r.waiting_exact and r.service_exact) for r in rows)


def _never_called(rows: list[TransactionRow]) -> int:
    return sum(r.counter is None for r in rows)
