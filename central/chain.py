"""The centre checks each device store's hash chain as events arrive (issue 9, item 8).

Every event carries ``prev``, the hash of the event before it in its device's store
(``docs/events.md``); the first event of a store carries the store's chain start. The centre
keeps each event's own hash beside it, and when an event is stored it checks both of its links
that it can see: to the event before it and to the one after it (events arrive late and out of
order, so whichever of two neighbours comes second makes the check). A link that does not hold
means an event was deleted, changed or reordered on the device: a :class:`ChainBreak`, kept in
``chain_breaks`` with what was expected and found, never silently repaired.

Events from before the chain (``prev`` empty) and events whose payload does not fit the
contract (their hash cannot be recomputed as the device made it) are not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from domain.clock import wall_text
from domain.events import (
    EventContractError,
    Payload,
    StoredEvent,
    canonical_payload,
    chain_hash,
    chain_start,
    payload_variants,
    typed_payload,
)

SCHEMA = (
    "ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT ''",
    """CREATE TABLE chain_breaks (
        device_id TEXT NOT NULL, store TEXT NOT NULL, seq INTEGER NOT NULL,
        expected TEXT NOT NULL, found TEXT NOT NULL, detected_at TEXT NOT NULL,
        PRIMARY KEY (device_id, store, seq)
    )""",
)


@dataclass(frozen=True)
class ChainBreak:
    """The link into ``seq`` does not hold: its ``prev`` is ``found``, the event before it
    hashes to ``expected``."""

    device: str
    store: str
    seq: int
    expected: str
    found: str

    def describe(self) -> str:
        return (
            f"{self.device} store {self.store[:8] or '(unnamed)'}: the hash chain breaks at seq "
            f"{self.seq} (an event before it was deleted, changed or reordered on the device)"
        )


def event_hash(event: StoredEvent) -> str:
    """The event's own hash as its device computed it ('' if it cannot be recomputed), then,
    space-separated, the hashes a device of an earlier release made of it (its payload without
    fields added since: ``domain.events.payload_variants``)."""
    try:
        return own_hashes(event, typed_payload(event.type, event.payload), wall_text(event.wall))
    except (EventContractError, TypeError, ValueError):
        return ""


def own_hashes(event: StoredEvent, typed: Payload | dict[str, Any] | None, wall: str) -> str:
    """:func:`event_hash` of an event whose typed payload and stored wall time are at hand
    ('' without a payload)."""
    if typed is None:
        return ""
    try:
        variants = (
            payload_variants(typed) if isinstance(typed, Payload) else [canonical_payload(typed)]
        )
        head = (event.prev, event.seq, event.id, event.device_id, event.boot_id, event.mono)
        return " ".join(chain_hash(*head, wall, event.type, payload) for payload in variants)
    except (EventContractError, TypeError, ValueError):
        return ""


Lookup = Callable[[Sequence[int]], dict[int, tuple[str, str]]]
"""The stored events among some seqs of a store: seq -> (prev, hash)."""


def stored_links(
    query: Callable[[str, Sequence[Any]], Iterable[Sequence[Any]]], device: str, store: str
) -> Lookup:
    """A :data:`Lookup` that reads the events table."""

    def lookup(seqs: Sequence[int]) -> dict[int, tuple[str, str]]:
        if not seqs:
            return {}
        rows = query(
            "SELECT seq, prev, hash FROM events WHERE device_id = ? AND store = ? "
            f"AND seq IN ({', '.join('?' * len(seqs))})",
            (device, store, *seqs),
        )
        return {int(seq): (prev, own) for seq, prev, own in rows}

    return lookup


def check_links(
    lookup: Lookup, device: str, store: str, new: dict[int, tuple[str, str]]
) -> list[ChainBreak]:
    """The breaks among the links of the newly stored events ``new`` (seq -> (prev, hash)),
    looking up the neighbours already stored."""
    wanted = sorted(({s - 1 for s in new} | {s + 1 for s in new}) - set(new) - {0})
    known: dict[int, tuple[str, str]] = dict(new)
    if wanted:
        known.update(lookup(wanted))
    breaks = []
    checked = set()
    for seq in sorted(new):
        for into in (seq, seq + 1):  # the link into this event, and into the next
            if into in checked or into not in known:
                continue
            checked.add(into)
            prev = known[into][0]
            if into == 1:
                expected = chain_start(store) if store else ""
            elif into - 1 in known:
                if not known[into - 1][0]:
                    continue  # the event before it is from before its device had a chain
                expected = known[into - 1][1]
            else:
                continue  # the event before it has not arrived yet
            if prev and expected and prev not in expected.split():
                breaks.append(ChainBreak(device, store, into, expected.split()[0], prev))
    return breaks
