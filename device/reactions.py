"""What the counter says and shows on its LED for each stored event (pure: no I/O).

The runtime hands each event to :func:`speech_for` and :func:`led_for` and passes the result to
the announcer and the LED display. Only events of the counter concerned produce anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


def _mine(payload: dict, counter: int | None) -> bool:
    return counter is None or payload.get("counter") == counter


def speech_for(event_type: str, payload: dict, counter: int | None) -> Speech | None:
    """The announcement an event calls for at ``counter`` (``None``: every counter, the board)."""
    if not _mine(payload, counter):
        return None
    if event_type in ("ticket.called", "ticket.recalled"):
        fields = {"ticket": payload["ticket"]["number"], "counter": payload["counter"]}
        return Speech("call", fields)
    if counter is None:
        return None
    if event_type == "service.started":
        return Speech("welcome")
    if event_type == "rating.invited":
        return Speech("rate_prompt")
    if event_type == "rating.press" and payload.get("outcome") == "accepted":
        return Speech("thanks")
    return None


def led_for(event_type: str, payload: dict, counter: int) -> Led | None:
    """What the counter's LED display should show after an event at ``counter``."""
    if payload.get("counter") != counter:
        return None
    if event_type in ("ticket.called", "ticket.recalled"):
        return Led("call", payload["ticket"]["number"], counter)
    if event_type in ("counter.paused", "counter.signed_out"):
        return Led("paused")
    if event_type in ("counter.resumed", "counter.signed_in"):
        return Led("clear")
    return None
