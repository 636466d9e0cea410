"""One line of plain words per stored event, for the demo and for logs."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from config.model import Config
from domain.events import StoredEvent
from domain.report import minutes

_REF_KEYS = {"counter", "transaction_id", "teller", "ticket", "ticket_id", "business_type"}


def _ticket(p: dict) -> str:
    t = p.get("ticket")
    if isinstance(t, dict):
        return t["number"] + (f" ({t['priority']})" if t.get("priority") else "")
    return t or "(no ticket)"


def _approx(p: dict, what: str) -> str:
    """``~`` before a duration that spans a power cut (an estimate)."""
    return "" if p.get(f"{what}_exact", p.get("exact", True)) else "~"


def describe(event: StoredEvent, config: Config) -> str:
    """``08:31:05 #12 ticket.called  A001 -> counter 1``-style summary of one event."""
    p, kind = event.payload, event.type
    c = p.get("counter")
    texts = config.texts
    lang = config.device.language
    if kind == "ticket.issued":
        what = f"{_ticket(p)} {p['ticket']['business_type']}, {p['ahead']} ahead"
    elif kind == "ticket.called":
        voice = texts.get("call", lang).format(ticket=p["ticket"]["number"], counter=c)
        what = f"{_ticket(p)} -> counter {c}  «{voice}»" + (
            "  [out of order]" if p.get("out_of_order") else ""
        )
    elif kind == "ticket.recalled":
        what = f"{_ticket(p)} -> counter {c}, call {p['call']}"
    elif kind == "rating.invited":
        what = f"counter {c} {p['ticket'] or ''} «{texts.get('rate_prompt', lang)}»"
    elif kind == "rating.press":
        what = f"counter {c} key {p['value']}: {p['outcome']}"
        if p["outcome"] == "accepted":
            what += f"  «{texts.get('thanks', lang)}»"
    elif kind == "transaction.closed":
        rating = p["rating_label"] or p["rating_status"]
        wait = p.get("total_waiting_s", p["waiting_s"])
        what = (
            f"counter {c} {p['ticket'] or '(ticketless)'} {p['outcome']}: "
            f"wait {_approx(p, 'waiting')}{minutes(wait)}"
            f"{' OVER LIMIT' if p['wait_over_limit'] else ''}, "
            f"service {_approx(p, 'service')}{minutes(p['service_s'])}"
            f"{' OVER LIMIT' if p['service_over_limit'] else ''}, {rating}"
        )
    elif kind in ("counter.signed_in", "counter.signed_out"):
        what = f"counter {c} {p['teller']['staff_no']} {p['teller']['name']}"
    elif kind == "action.rejected":
        what = f"counter {c} {p['key']}: {p['reason']}"
    elif kind == "counter.paused":
        what = f"counter {c} «{texts.get('paused', lang)}» ({p['reason']})"
    elif kind in ("ticket.transferred",):
        target = p["to_business_type"] or f"counter {p['to_counter']}"
        what = f"{_ticket(p)} from counter {p['from_counter']} to {target}"
    elif "ticket" in p and isinstance(p["ticket"], dict):
        what = _ticket(p) + (f" counter {c}" if c else "")
    elif "transaction_id" in p:
        extra = {k: v for k, v in p.items() if k not in _REF_KEYS and v is not None}
        what = f"counter {c} {p['ticket'] or '(ticketless)'} teller {p['teller']}" + "".join(
            f" {k}={v}" for k, v in extra.items()
        )
    else:
        what = " ".join(f"{k}={v}" for k, v in p.items() if k not in ("transaction_id",))
    local = event.wall.astimezone(ZoneInfo(config.device.timezone))
    return f"{local:%H:%M:%S} #{event.seq:<4d} {kind:<20s} {what}"
