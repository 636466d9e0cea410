"""Tickets and their numbering: a business-type prefix and a zero-padded number per business day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.business_day import DayKeeper
from domain.clock import Instant
from domain.events import TicketInfo


@dataclass(frozen=True)
class Ticket:
    """A customer's ticket, e.g. ``A012`` for business type ``cash``.

    ``id`` is unique within a branch for good: the business day plus the number.
    """

    number: str
    business_type: str
    priority: str | None
    issued_at: Instant
    business_day: date
    serial: int

    @property
    def id(self) -> str:
        return f"{self.business_day:%Y%m%d}-{self.number}"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "number": self.number,
            "business_type": self.business_type,
            "priority": self.priority,
            "business_day": self.business_day.isoformat(),
            "serial": self.serial,
            "issued_at": self.issued_at.to_dict(),
        }

    def info(self) -> TicketInfo:
        """The ticket as events carry it."""
        return TicketInfo(
            id=self.id,
            number=self.number,
            business_type=self.business_type,
            priority=self.priority,
            business_day=self.business_day,
            serial=self.serial,
            issued_at=self.issued_at,
        )

    @classmethod
    def from_info(cls, info: TicketInfo) -> Ticket:
        return cls(
            number=info.number,
            business_type=info.business_type,
            priority=info.priority,
            issued_at=info.issued_at,
            business_day=info.business_day,
            serial=info.serial,
        )

    @classmethod
    def from_dict(cls, data: dict) -> Ticket:
        return cls(
            number=data["number"],
            business_type=data["business_type"],
            priority=data.get("priority"),
            issued_at=Instant.from_dict(data["issued_at"]),
            business_day=date.fromisoformat(data["business_day"]),
            serial=int(data["serial"]),
        )


def format_number(prefix: str, serial: int, digits: int) -> str:
    """``format_number("A", 12, 3) == "A012"``; a serial too large for ``digits`` widens."""
    return f"{prefix}{serial:0{digits}d}"


class TicketIssuer:
    """Numbers tickets per prefix, starting again at 1 when a new business day begins.

    The business day comes from a :class:`~domain.business_day.DayKeeper`: the local date of the
    wall clock, moved on by time passing, never back, and not by a clock step that is taken back
    (an RTC-less Pi before NTP, a bad time server).
    """

    def __init__(self, prefixes: dict[str, str], digits: int, timezone: str) -> None:
        self._prefixes = dict(prefixes)
        self._digits = digits
        self.keeper = DayKeeper(timezone)
        self._day: date | None = None
        self._serials: dict[str, int] = {}

    @property
    def business_day(self) -> date | None:
        """The day of the numbering in use (``None`` before the first reading)."""
        return self._day

    @property
    def serials(self) -> dict[str, int]:
        return dict(self._serials)

    def advance(self, at: Instant) -> date | None:
        """Read the clocks; if a new business day has begun, start its numbering and return it."""
        day = self.keeper.observe(at)
        if day == self._day:
            return None
        self._day, self._serials = day, {}
        return day

    def issue(self, business_type: str, priority: str | None, at: Instant) -> Ticket:
        prefix = self._prefixes[business_type]
        self.advance(at)
        assert self._day is not None
        serial = self._serials.get(prefix, 0) + 1
        self._serials[prefix] = serial
        return Ticket(
            number=format_number(prefix, serial, self._digits),
            business_type=business_type,
            priority=priority,
            issued_at=at,
            business_day=self._day,
            serial=serial,
        )

    def restore(self, ticket: Ticket) -> None:
        """Continue numbering after ``ticket`` (replaying history after a restart)."""
        prefix = self._prefixes.get(ticket.business_type, ticket.number.rstrip("0123456789"))
        if self._day is None or ticket.business_day > self._day:
            self._day, self._serials = ticket.business_day, {}
            if self.keeper.day is None or ticket.business_day > self.keeper.day:
                self.keeper.day = ticket.business_day
        if ticket.business_day == self._day:
            self._serials[prefix] = max(self._serials.get(prefix, 0), ticket.serial)

    def to_state(self) -> dict:
        return {
            "day": self._day.isoformat() if self._day else None,
            "serials": dict(self._serials),
            "keeper": self.keeper.to_state(),
        }

    def load_state(self, state: dict) -> None:
        """Take the numbering back from :meth:`to_state` (restoring after a restart)."""
        self._day = date.fromisoformat(state["day"]) if state["day"] else None
        self._serials = {str(k): int(v) for k, v in state["serials"].items()}
        self.keeper = DayKeeper.from_state(self.keeper.timezone, state["keeper"])
