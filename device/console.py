"""One line of plain words per stored event, for the demo and for logs."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from config.model import Config
from domain import events as ev
from domain.events import StoredEvent, to_json_object
from domain.report import minutes

_REF_KEYS = {"counter", "transaction_id", "teller", "ticket", "ticket_id", "business_type"}


def _ticket(t: ev.TicketInfo) -> str:
    return t.number + (f" ({t.priority})" if t.priority else "")


def _approx(exact: bool) -> str:
    """``~`` before a duration that spans a power cut (an estimate)."""
    return "" if exact else "~"


def _over(flag: bool) -> str:
    return " OVER LIMIT" if flag else ""


def describe(event: StoredEvent, config: Config) -> str:
    """``08:31:05 #12 ticket.called  A001 -> counter 1``-style summary of one event."""
    p, kind = event.payload, event.type
    texts, lang = config.texts, config.device.language
    match p:
        case ev.TicketIssued():
            what = f"{_ticket(p.ticket)} {p.ticket.business_type}, {p.ahead} ahead"
        case ev.TicketCalled():
            voice = texts.get("call", lang).format(ticket=p.ticket.number, counter=p.counter)
            order = "  [out of order]" if p.out_of_order else ""
            what = f"{_ticket(p.ticket)} -> counter {p.counter}  «{voice}»{order}"
        case ev.TicketRecalled():
            what = f"{_ticket(p.ticket)} -> counter {p.counter}, call {p.call}"
        case ev.TicketTransferred():
            target = p.to_business_type or f"counter {p.to_counter}"
            what = f"{_ticket(p.ticket)} from counter {p.from_counter} to {target}"
        case ev.QueueEvent():
            counter = getattr(p, "counter", None)
            what = _ticket(p.ticket) + (f" counter {counter}" if counter else "")
        case ev.RatingInvited():
            what = f"counter {p.counter} {p.ticket or ''} «{texts.get('rate_prompt', lang)}»"
        case ev.RatingPress():
            what = f"counter {p.counter} key {p.value}: {p.outcome}"
            if p.outcome == "accepted":
                what += f"  «{texts.get('thanks', lang)}»"
        case ev.TransactionClosed():
            wait = p.total_waiting_s if p.total_waiting_s is not None else p.waiting_s
            what = (
                f"counter {p.counter} {p.ticket or '(ticketless)'} {p.outcome}: "
                f"wait {_approx(p.waiting_exact and p.exact)}{minutes(wait)}"
                f"{_over(p.wait_over_limit)}, "
                f"service {_approx(p.service_exact and p.exact)}{minutes(p.service_s)}"
                f"{_over(p.service_over_limit)}, {p.rating_label or p.rating_status}"
            )
        case ev.CounterSignedIn() | ev.CounterSignedOut():
            what = f"counter {p.counter} {p.teller.staff_no} {p.teller.name}"
        case ev.ActionRejected():
            what = f"counter {p.counter} {p.key}: {p.reason}"
        case ev.CounterPaused():
            what = f"counter {p.counter} «{texts.get('paused', lang)}» ({p.reason})"
        case ev.TransactionEvent():
            fields = to_json_object(p)
            extra = {k: v for k, v in fields.items() if k not in _REF_KEYS and v is not None}
            what = f"counter {p.counter} {p.ticket or '(ticketless)'} teller {p.teller}" + "".join(
                f" {k}={v}" for k, v in extra.items()
            )
        case _:
            fields = to_json_object(p)
            what = " ".join(f"{k}={v}" for k, v in fields.items() if k != "transaction_id")
    local = event.wall.astimezone(ZoneInfo(config.device.timezone))
    return f"{local:%H:%M:%S} #{event.seq:<4d} {kind:<20s} {what}"
