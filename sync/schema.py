"""The sync messages, version 1: events batches, acks, resend requests and status (``sync.wire``
reads and writes the envelope; ``docs/protocol.md`` has the examples).

- ``events``  device -> centre: ``{"device", "store", "pruned", "events": [{seq, id, boot, mono,
  wall, type, payload}, ...]}``, seqs contiguous and increasing within the batch; ``pruned``
  (only when above 0) says the store no longer holds seqs 1..pruned (deleted after the centre
  acknowledged them: ``device/retention.py``).
- ``ack``     centre -> device: ``{"device", "store", "upto": N}``, every event of that store up to
  seq N is stored at the centre.
- ``resend``  centre -> device: ``{"device", "store", "from": A, "to": B}``: send A..B again.
- ``status``  device -> anyone, retained: ``{"device", "state": "online"|"offline", "at", "boot",
  "reason"}``.

``store`` is the identity of the device's event store (``EventStore.store_id``: a UUID, or ``''``
for a store older than identities; a missing field means ``''``). Seqs count within one store, so
an ack or a resend request is only ever applied by the store it names.

Each event's payload is also checked against the event contract (``domain.events``): a payload
that does not fit its type does not refuse the batch, it is named in :attr:`EventBatch.unfit` (the
centre puts that event aside and keeps the sequence whole).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from domain.events import EventContractError, Payload, StoredEvent, typed_payload
from sync import wire
from sync.wire import MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES
from sync.wire import SchemaError as SchemaError
from sync.wire import Seq, Text, check_store, encode, read

MAX_BATCH_EVENTS = 1000


# --- the messages ------------------------------------------------------------------------------


class Event(msgspec.Struct, frozen=True):
    """One event inside a batch (the device is named once, by the batch)."""

    seq: Seq
    id: Text
    boot: str
    mono: float
    wall: Annotated[datetime, msgspec.Meta(tz=True)]
    type: Text
    payload: dict[str, Any]
    prev: str = ""  # the hash of the event before it in its store (docs/events.md)


Pruned = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Events(wire.Message, frozen=True, kw_only=True):
    """A batch: 1 to ``MAX_BATCH_EVENTS`` events of one store, seqs contiguous. ``pruned``: the
    store no longer holds seqs 1..pruned (its device deleted them after an acknowledgement);
    written only when above 0 (unset otherwise, never written), so the batch of a device that
    never pruned is byte for byte what it was before the field, ``"store":""`` included.
    ``events`` stays last: :func:`_batch_bytes` splices the events in after ``"events":[``."""

    KIND: ClassVar[str] = "events"

    device: Text
    store: str = ""
    pruned: Pruned | msgspec.UnsetType = msgspec.UNSET
    events: Annotated[list[Event], msgspec.Meta(min_length=1)]

    def __post_init__(self) -> None:
        check_store(self.store)
        n = len(self.events)
        if n > MAX_BATCH_EVENTS:
            raise ValueError(f"too many events in one batch: {n} > {MAX_BATCH_EVENTS}")
        for i in range(1, n):
            before, seq = self.events[i - 1].seq, self.events[i].seq
            if seq != before + 1:
                raise ValueError(f"seqs not contiguous: event {i} has seq {seq} after seq {before}")
        pruned = self.pruned
        if n and not isinstance(pruned, msgspec.UnsetType) and pruned >= self.events[0].seq:
            raise ValueError(
                f"pruned {pruned}: the store cannot send seq {self.events[0].seq}, which it says "
                f"it deleted"
            )


class Ack(wire.Message, frozen=True):
    """Every event of ``store`` up to ``upto`` is stored at the centre (0: none yet). ``id``:
    the id of the event the centre holds at ``upto`` (left out when it holds none there of
    the device's: a lost placeholder). A device applies the ack only if its own event at
    ``upto`` has that id, so an ack of another history (a store restored from an older copy,
    whose seqs were reused by new events) releases nothing."""

    KIND: ClassVar[str] = "ack"

    device: Text
    upto: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # a seq, or 0
    store: str = ""
    id: str | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_store(self.store)


class ResendRequest(wire.Message, frozen=True):
    """Please publish seqs ``first``..``last`` of ``store`` again."""

    KIND: ClassVar[str] = "resend"

    device: Text
    first: Seq = msgspec.field(name="from")
    last: Seq = msgspec.field(name="to")
    store: str = ""

    def __post_init__(self) -> None:
        check_store(self.store)
        if self.last < self.first:
            raise ValueError(f"empty range: 'to' ({self.last}) is before 'from' ({self.first})")


class Status(wire.Message, frozen=True, omit_defaults=True):
    """``online`` or ``offline``, retained; ``at`` (ISO time), ``boot`` and ``reason`` optional."""

    KIND: ClassVar[str] = "status"

    device: Text
    state: Literal["online", "offline"]
    at: str | None = None
    boot: str | None = None
    reason: str | None = None


class Alert(msgspec.Struct, frozen=True, omit_defaults=True):
    """One open alert of a branch (``docs/centre.md``): ``kind`` (bad_rating, bad_burst,
    wait_over_limit, idle_with_queue, chain_break, device_offline, below_target, opened_late,
    closed_early), who or what it concerns, when, and what happened, in Chinese."""

    id: int
    kind: Text
    subject: str
    at: Text
    message: Text


class AlertState(wire.Message, frozen=True):
    """The open (unacknowledged) alerts of ``branch``, newest first, at most ``ALERTS_SHOWN``;
    retained on ``cs/v1/<branch>/alerts`` by the centre, replaced whenever they change."""

    KIND: ClassVar[str] = "alerts"

    branch: Text
    at: Text
    open: int
    alerts: list[Alert]


ALERTS_SHOWN = 50


def encode_alerts(state: AlertState) -> bytes:
    return encode(state)


def parse_alerts(payload: bytes | str) -> AlertState:
    return read(payload, AlertState)


@dataclass(frozen=True)
class EventBatch:
    """A batch as the centre files it; ``unfit`` maps the seq of each event whose payload does
    not fit the event contract to the reason, and ``typed`` holds each event's payload as its
    typed struct (None where it does not fit; computed here, however the batch was made). The
    events keep their payloads as they came (a batch off the wire: plain JSON objects).
    ``pruned``: the device's store no longer holds seqs 1..pruned (0: it holds them all)."""

    device: str
    events: tuple[StoredEvent, ...]
    store: str = ""
    pruned: int = 0
    unfit: dict[int, str] = field(init=False, compare=False, repr=False)
    typed: tuple[Payload | dict[str, Any] | None, ...] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        unfit = {}
        typed: list[Payload | dict[str, Any] | None] = []
        for event in self.events:
            try:
                typed.append(typed_payload(event.type, event.payload))
            except EventContractError as exc:
                unfit[event.seq] = str(exc)
                typed.append(None)
        object.__setattr__(self, "unfit", unfit)
        object.__setattr__(self, "typed", tuple(typed))

    def put_aside(self, seq: int, reason: str) -> EventBatch:
        """This batch with the event ``seq`` marked unfit for ``reason`` (the centre's database
        refused it): filed as a placeholder, its original kept in quarantine."""
        copy = EventBatch(self.device, self.events, self.store, self.pruned)
        object.__setattr__(copy, "unfit", {**copy.unfit, seq: reason})
        pairs = zip(self.events, copy.typed, strict=True)
        typed = tuple(None if e.seq == seq else t for e, t in pairs)
        object.__setattr__(copy, "typed", typed)
        return copy

    @property
    def first(self) -> int:
        return self.events[0].seq

    @property
    def last(self) -> int:
        return self.events[-1].seq


# --- encoding ----------------------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder()


def encode_event(event: StoredEvent) -> bytes:
    """One event as it appears inside a batch; ``wall`` in RFC 3339 as msgspec writes it (UTC
    as ``Z``), so that a batch reads back byte for byte (``sync.wire``'s one typed pass)."""
    return _ENCODER.encode(
        {
            "seq": event.seq,
            "id": event.id,
            "boot": event.boot_id,
            "mono": event.mono,
            "wall": event.wall,
            "type": event.type,
            "payload": event.payload,
            "prev": event.prev,
        }
    )


def batch_envelope_size(device: str, store: str = "", pruned: int = 0) -> int:
    """Bytes a batch message adds around its events (plus one comma between two events)."""
    return len(_batch_bytes(device, store, [], pruned))


def _batch_bytes(device: str, store: str, encoded: Sequence[bytes], pruned: int = 0) -> bytes:
    if pruned < 0:
        raise ValueError(f"pruned must be 0 or more, not {pruned}")
    body = Events(device=device, store=store, pruned=pruned or msgspec.UNSET, events=[])
    empty = encode(body)  # …,"events":[]}
    return empty[:-2] + b",".join(encoded) + b"]}"


def encode_batch(
    device: str, events: Iterable[StoredEvent | bytes], *, store: str = "", pruned: int = 0
) -> bytes:
    """An ``events`` message of store ``store``, whose device no longer holds seqs 1..``pruned``
    (0: written without the field); items may be events or their :func:`encode_event` bytes."""
    encoded = [e if isinstance(e, bytes) else encode_event(e) for e in events]
    if not encoded:
        raise ValueError("a batch holds at least one event")
    return _batch_bytes(device, store, encoded, pruned)


def encode_ack(device: str, upto: int, *, store: str = "", event_id: str = "") -> bytes:
    """An ``ack``; ``event_id`` (of the centre's event at ``upto``) written when given."""
    return encode(Ack(device, upto, store, event_id or msgspec.UNSET))


def encode_resend(device: str, first: int, last: int, *, store: str = "") -> bytes:
    return encode(ResendRequest(device, first, last, store))


def encode_status(status: Status) -> bytes:
    return encode(status)


# --- parsing -----------------------------------------------------------------------------------


def parse_batch(payload: bytes | str, topic_device: str | None = None) -> EventBatch:
    """An ``events`` message; ``topic_device`` is the device named by the topic it came on."""
    batch = read(payload, Events, topic_device)
    events = tuple(
        StoredEvent(
            e.seq, e.id, batch.device, e.boot, e.mono, e.wall, e.type, e.payload, prev=e.prev
        )
        for e in batch.events
    )
    pruned = 0 if isinstance(batch.pruned, msgspec.UnsetType) else batch.pruned
    return EventBatch(batch.device, events, batch.store, pruned)


def parse_ack(payload: bytes | str, topic_device: str | None = None) -> Ack:
    return read(payload, Ack, topic_device)


def parse_resend(payload: bytes | str, topic_device: str | None = None) -> ResendRequest:
    return read(payload, ResendRequest, topic_device)


def parse_status(payload: bytes | str, topic_device: str | None = None) -> Status:
    return read(payload, Status, topic_device)
