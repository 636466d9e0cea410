"""What the counter says and shows on its LED for each stored event (pure: no I/O).

The runtime hands each event to :func:`speech_for` and :func:`led_for` and passes the result to
the announcer and the LED display. Only events of the counter concerned produce anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain import events as ev


@dataclass(frozen=True)
class Speech:
    """A configured text to say: ``template`` is a key of ``[texts]``, ``fields`` its values."""

    template: str
    fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Led:
    """An LED display command: ``call`` (ticket, counter), ``paused``, or ``clear``."""

    command: str
    ticket: str | None = None
    counter: int | None = None


def speech_for(payload: ev.Payload | dict, counter: int | None) -> Speech | None:
    """The announcement an event calls for at ``counter`` (``None``: every counter, the board)."""
    if counter is not None and getattr(payload, "counter", None) != counter:
        return None
    match payload:
        case ev.TicketCalled() | ev.TicketRecalled():
            return Speech("call", {"ticket": payload.ticket.number, "counter": payload.counter})
    if counter is None:
        return None
    match payload:
        case ev.ServiceStarted():
            return Speech("welcome")
        case ev.RatingInvited():
            return Speech("rate_prompt")
        case ev.RatingPress(outcome="accepted"):
            return Speech("thanks")
    return None


def led_for(payload: ev.Payload | dict, counter: int) -> Led | None:
    """What the counter's LED display should show after an event at ``counter``."""
    if getattr(payload, "counter", None) != counter:
        return None
    match payload:
        case ev.TicketCalled() | ev.TicketRecalled():
            return Led("call", payload.ticket.number, counter)
        case ev.CounterPaused() | ev.CounterSignedOut():
            return Led("paused")
        case ev.CounterResumed() | ev.CounterSignedIn():
            return Led("clear")
    return None
