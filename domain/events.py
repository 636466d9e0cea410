"""The event contract: every event type the system records, with one typed payload per type.

Everything the centre knows is derived from these events, so they are declared once, here, and
used by every producer and every reader: the domain that raises them, the device app that stores,
shows and speaks them, the wire that carries them and the centre that counts them.
``docs/events.md`` lists them, generated from this module (``python -m domain.events``; a test
keeps it up to date).

- :class:`EventType` names every type (``ticket.issued`` ...);
- each payload is a frozen :class:`msgspec.Struct` subclass of :class:`Payload`, registered for
  its type with :func:`payload`; :data:`PAYLOADS` maps types to them;
- :func:`encode_payload` and :func:`decode_payload` turn a payload into the stored and sent JSON
  object and back, checking every field's type: a payload that does not match its type's
  declaration is refused with the path of the field (``ticket.issued: expected `int`, got `str` -
  at `$.ahead```). Fields added later have defaults, so events stored by earlier versions still
  decode; a field this version does not know is ignored.

An event as the domain raises it is a :class:`DomainEvent` (type, instant, payload); the store
gives it an identity, an order and a place (:class:`StoredEvent`). Types outside the contract (a
test's own, or one from a newer version) keep a plain ``dict`` payload.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import msgspec

from domain.clock import Instant, wall_text


class EventType(StrEnum):
    """Every event type, by the part of the branch it concerns."""

    # the queue (the controller's queue service, or the branch queue of a stand-alone device)
    TICKET_ISSUED = "ticket.issued"
    TICKET_CALLED = "ticket.called"
    TICKET_RECALLED = "ticket.recalled"
    TICKET_ESCALATED = "ticket.escalated"
    TICKET_TRANSFERRED = "ticket.transferred"
    TICKET_SERVED = "ticket.served"
    TICKET_NO_SHOW = "ticket.no_show"
    TICKET_CANCELLED = "ticket.cancelled"
    TICKET_EXPIRED = "ticket.expired"
    TICKET_WAIT_OVER_LIMIT = "ticket.wait_over_limit"
    QUEUE_DAY_STARTED = "queue.day_started"
    QUEUE_TOO_LONG = "queue.too_long"
    QUEUE_BACK_TO_NORMAL = "queue.back_to_normal"
    # the kiosk's printer
    TICKET_PRINTED = "ticket.printed"
    TICKET_PRINT_FAILED = "ticket.print_failed"
    TICKET_PRINT_ABANDONED = "ticket.print_abandoned"
    # a counter and its teller
    COUNTER_SIGNED_IN = "counter.signed_in"
    COUNTER_SIGNED_OUT = "counter.signed_out"
    COUNTER_CALLED = "counter.called"
    COUNTER_RECALLED = "counter.recalled"
    COUNTER_TRANSFERRED = "counter.transferred"
    COUNTER_PAUSED = "counter.paused"
    COUNTER_RESUMED = "counter.resumed"
    COUNTER_IDLE_WITH_QUEUE = "counter.idle_with_queue"
    COUNTER_IDLE_ENDED = "counter.idle_ended"
    PAUSE_OVER_LIMIT = "pause.over_limit"
    SERVICE_STARTED = "service.started"
    SERVICE_FINISHED = "service.finished"
    SERVICE_OVER_LIMIT = "service.over_limit"
    SERVICE_BAND_CHOSEN = "service.band_chosen"
    SERVICE_EXTENDED = "service.extended"
    ACTION_REJECTED = "action.rejected"
    # the customer's rating
    RATING_INVITED = "rating.invited"
    RATING_PRESS = "rating.press"
    RATING_REASON = "rating.reason"
    TRANSACTION_CLOSED = "transaction.closed"
    # the device and the wire
    DEVICE_STARTED = "device.started"
    DEVICE_HEARTBEAT = "device.heartbeat"
    SYNC_OVERSIZED = "sync.oversized"
    SYNC_QUARANTINED = "sync.quarantined"


HEARTBEAT_TYPE = EventType.DEVICE_HEARTBEAT  # one a wall-clock minute the device is on (开机率)


class EventContractError(ValueError):
    """A payload that does not match its event type's declaration (the message says where)."""


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every payload: frozen, fields by keyword."""

    TYPE: ClassVar[EventType]

    # Read-only access to the JSON form, as stored and sent (``payload["ticket"]["id"]``), for
    # tests and tools that read events as the wire has them. Code reads the typed attributes
    # (tests/test_layout.py keeps it so).
    def __getitem__(self, key: str) -> Any:
        return to_json_object(self)[key]

    def get(self, key: str, default: Any = None) -> Any:
        return to_json_object(self).get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in to_json_object(self)

    def keys(self):
        return to_json_object(self).keys()

    def items(self):
        return to_json_object(self).items()


class Part(msgspec.Struct, frozen=True, kw_only=True):
    """A typed part of payloads (a ticket, a teller ...)."""


PAYLOADS: dict[str, type[Payload]] = {}
P = TypeVar("P", bound=type[Payload])


def payload(event_type: EventType):
    """Class decorator: the payload of ``event_type``."""

    def register(cls: P) -> P:
        if event_type in PAYLOADS:
            raise TypeError(f"{event_type} has two payload classes")
        cls.TYPE = event_type
        PAYLOADS[event_type] = cls
        return cls

    return register


# -- parts -------------------------------------------------------------------------------------


class TicketInfo(Part, frozen=True, kw_only=True):
    """A ticket as issued: ``id`` is its business day and number (``20261125-A012``)."""

    id: str
    number: str
    business_type: str
    priority: str | None = None
    business_day: date
    serial: int
    issued_at: Instant


class QueuedTicket(TicketInfo, frozen=True, kw_only=True):
    """A ticket in the queue: ``business_type`` is the one it queues for now (after transfers)
    and ``queued_at`` when it joined this leg of the queue (its issue, or the transfer)."""

    queued_at: Instant


class TellerInfo(Part, frozen=True, kw_only=True):
    staff_no: str
    name: str
    stars: int | None = None


class RequestRef(Part, frozen=True, kw_only=True):
    """The queue request (from a counter or kiosk over MQTT) an event answered."""

    device: str
    id: str
    op: str


class TicketRef(Part, frozen=True, kw_only=True):
    id: str
    number: str


class Timeline(Part, frozen=True, kw_only=True):
    """The instants of a transaction (see ``domain/timing.py``)."""

    queued: Instant | None = None
    called: Instant | None = None
    started: Instant | None = None
    ended: Instant | None = None
    rated: Instant | None = None


class Limits(Part, frozen=True, kw_only=True):
    """The limits a transaction was held against (``None``: its type has none any more)."""

    wait_s: float | None = None
    service_s: float | None = None


# -- the queue ---------------------------------------------------------------------------------


class QueueEvent(Payload, frozen=True, kw_only=True):
    """A ticket's event in the queue; ``request``: the queue request it answered, if any."""

    ticket: QueuedTicket
    request: RequestRef | None = None


@payload(EventType.TICKET_ISSUED)
class TicketIssued(Payload, frozen=True, kw_only=True):
    """A customer took a ticket; ``ahead``: how many of its type wait before it."""

    ticket: TicketInfo
    ahead: int
    request: RequestRef | None = None


@payload(EventType.TICKET_CALLED)
class TicketCalled(QueueEvent, frozen=True, kw_only=True):
    """The queue gave the ticket to ``counter``. ``out_of_order``: the teller chose it;
    ``jumped``: a priority ticket called ahead of an ordinary one issued earlier."""

    counter: int
    out_of_order: bool = False
    jumped: bool = False


@payload(EventType.TICKET_RECALLED)
class TicketRecalled(QueueEvent, frozen=True, kw_only=True):
    counter: int
    call: int


@payload(EventType.TICKET_ESCALATED)
class TicketEscalated(QueueEvent, frozen=True, kw_only=True):
    """Called first because it waited past its limit."""


@payload(EventType.TICKET_TRANSFERRED)
class TicketTransferred(QueueEvent, frozen=True, kw_only=True):
    """Back in the queue for another business type or counter, keeping its number."""

    from_counter: int
    to_business_type: str | None = None
    to_counter: int | None = None


@payload(EventType.TICKET_SERVED)
class TicketServed(QueueEvent, frozen=True, kw_only=True):
    counter: int


@payload(EventType.TICKET_NO_SHOW)
class TicketNoShow(QueueEvent, frozen=True, kw_only=True):
    """过号: called, and the customer did not come."""

    counter: int


@payload(EventType.TICKET_CANCELLED)
class TicketCancelled(QueueEvent, frozen=True, kw_only=True):
    """A waiting ticket that never reached its customer (its print failed for good)."""

    reason: str


@payload(EventType.TICKET_EXPIRED)
class TicketExpired(QueueEvent, frozen=True, kw_only=True):
    """Still waiting when its business day ended (``reason`` ``day_ended``)."""

    reason: str = "day_ended"
    waited_s: float | None = None


@payload(EventType.TICKET_WAIT_OVER_LIMIT)
class TicketWaitOverLimit(QueueEvent, frozen=True, kw_only=True):
    """Waited in the branch (since issue) past its limit: raised once per ticket."""

    waited_s: float
    leg_waited_s: float | None = None
    limit_s: float | None = None


@payload(EventType.QUEUE_DAY_STARTED)
class QueueDayStarted(Payload, frozen=True, kw_only=True):
    day: date
    request: RequestRef | None = None


class QueueLength(Payload, frozen=True, kw_only=True):
    business_type: str
    waiting: int
    limit: int
    request: RequestRef | None = None


@payload(EventType.QUEUE_TOO_LONG)
class QueueTooLong(QueueLength, frozen=True, kw_only=True):
    """More than ``limit`` wait for one business type: open a flexible window (弹性窗口)."""


@payload(EventType.QUEUE_BACK_TO_NORMAL)
class QueueBackToNormal(QueueLength, frozen=True, kw_only=True):
    """The line is down to 80 % of ``limit`` again."""


# -- the kiosk's printer -----------------------------------------------------------------------


class PrintEvent(Payload, frozen=True, kw_only=True):
    ticket: TicketRef
    attempt: int


@payload(EventType.TICKET_PRINTED)
class TicketPrinted(PrintEvent, frozen=True, kw_only=True):
    pass


@payload(EventType.TICKET_PRINT_FAILED)
class TicketPrintFailed(PrintEvent, frozen=True, kw_only=True):
    reason: str | None = None


@payload(EventType.TICKET_PRINT_ABANDONED)
class TicketPrintAbandoned(PrintEvent, frozen=True, kw_only=True):
    reason: str


# -- a counter ---------------------------------------------------------------------------------


class CounterEvent(Payload, frozen=True, kw_only=True):
    counter: int


class TransactionEvent(CounterEvent, frozen=True, kw_only=True):
    """An event of one transaction (one service of one customer) at a counter."""

    transaction_id: str
    teller: str  # staff number
    ticket: str | None = None  # number, e.g. A012; None for a ticketless service
    ticket_id: str | None = None
    business_type: str


@payload(EventType.COUNTER_SIGNED_IN)
class CounterSignedIn(CounterEvent, frozen=True, kw_only=True):
    teller: TellerInfo


@payload(EventType.COUNTER_SIGNED_OUT)
class CounterSignedOut(CounterEvent, frozen=True, kw_only=True):
    teller: TellerInfo


@payload(EventType.COUNTER_CALLED)
class CounterCalled(TransactionEvent, frozen=True, kw_only=True):
    """The counter called the ticket (``call`` 1); ``waited_before_s``: its wait in earlier legs
    (before a transfer), so the record can hold the customer's whole wait."""

    ticket_info: TicketInfo
    queued_at: Instant
    call: int = 1
    waited_before_s: float = 0.0
    waited_before_exact: bool = True


@payload(EventType.COUNTER_RECALLED)
class CounterRecalled(TransactionEvent, frozen=True, kw_only=True):
    call: int


@payload(EventType.COUNTER_TRANSFERRED)
class CounterTransferred(TransactionEvent, frozen=True, kw_only=True):
    to_business_type: str | None = None
    to_counter: int | None = None


@payload(EventType.COUNTER_PAUSED)
class CounterPaused(CounterEvent, frozen=True, kw_only=True):
    """暂停服务, with the reason the teller chose (its number in ``[queue] pause_reasons``)."""

    reason: str
    reason_index: int | None = None


@payload(EventType.COUNTER_RESUMED)
class CounterResumed(CounterEvent, frozen=True, kw_only=True):
    """The pause is over; ``paused_s`` how long it lasted, ``teller`` who paused (staff number)."""

    reason: str | None = None
    paused_s: float
    over_limit: bool = False
    teller: str | None = None


@payload(EventType.COUNTER_IDLE_WITH_QUEUE)
class CounterIdleWithQueue(CounterEvent, frozen=True, kw_only=True):
    """Signed in and idle while customers wait for it (闲置叫号)."""

    idle_s: float
    waiting: int
    teller: str | None = None


@payload(EventType.COUNTER_IDLE_ENDED)
class CounterIdleEnded(CounterEvent, frozen=True, kw_only=True):
    """A spell of 闲置叫号 that raised ``counter.idle_with_queue`` has ended (a customer called,
    nobody left waiting, paused or signed out): ``idle_s`` the whole spell, ``after_alert_s``
    the part after the alert's ``idle_s``, so the two events add up to the spell."""

    idle_s: float
    after_alert_s: float
    teller: str | None = None


@payload(EventType.PAUSE_OVER_LIMIT)
class PauseOverLimit(CounterEvent, frozen=True, kw_only=True):
    reason: str | None = None


@payload(EventType.SERVICE_STARTED)
class ServiceStarted(TransactionEvent, frozen=True, kw_only=True):
    ticketless: bool = False


@payload(EventType.SERVICE_FINISHED)
class ServiceFinished(TransactionEvent, frozen=True, kw_only=True):
    pass


@payload(EventType.SERVICE_OVER_LIMIT)
class ServiceOverLimit(TransactionEvent, frozen=True, kw_only=True):
    """The live warning (teller console only); ``implicit_start``: counted from the call."""

    elapsed_s: float
    limit_s: float
    implicit_start: bool = False
    exact: bool = True


@payload(EventType.SERVICE_BAND_CHOSEN)
class ServiceBandChosen(TransactionEvent, frozen=True, kw_only=True):
    band: int
    band_name: str
    limit_s: float | None = None


@payload(EventType.SERVICE_EXTENDED)
class ServiceExtended(TransactionEvent, frozen=True, kw_only=True):
    reason: int
    reason_zh: str
    add_s: float
    limit_s: float | None = None


@payload(EventType.ACTION_REJECTED)
class ActionRejected(CounterEvent, frozen=True, kw_only=True):
    """A key press the counter's state (or the queue) refused, with the reason."""

    key: str
    reason: str
    state: str | None = None
    queue_unavailable: bool = False


# -- the rating --------------------------------------------------------------------------------


@payload(EventType.RATING_INVITED)
class RatingInvited(TransactionEvent, frozen=True, kw_only=True):
    window_s: float


@payload(EventType.RATING_PRESS)
class RatingPress(CounterEvent, frozen=True, kw_only=True):
    """A press of a rating key, with its outcome (accepted, duplicate, out_of_window, paused,
    no_transaction, not_invited, invalid_level); the transaction it concerns, if any, and the
    teller at the counter (also when there is no transaction)."""

    value: int
    outcome: str
    transaction_id: str | None = None
    teller: str | None = None
    ticket: str | None = None
    ticket_id: str | None = None
    business_type: str | None = None


@payload(EventType.RATING_REASON)
class RatingReason(TransactionEvent, frozen=True, kw_only=True):
    """The one-tap reason after a bad rating."""

    rating: int
    reason: int
    reason_zh: str
    reason_en: str


@payload(EventType.TRANSACTION_CLOSED)
class TransactionClosed(TransactionEvent, frozen=True, kw_only=True):
    """The record of one transaction, everything the centre counts (docs/counter-rules.md):
    outcome (served, no_show, transferred), rating or why none (``rating_status``: rated,
    unrated, not_invited), timeline, durations against limits and whether they are exact."""

    teller_name: str = ""
    ticket_info: TicketInfo | None = None
    outcome: str
    calls: int = 0
    start_implicit: bool = False
    rating: int | None = None
    rating_label: str | None = None
    satisfied: bool | None = None
    rating_status: str
    timeline: Timeline = Timeline()
    band: int | None = None
    band_name: str | None = None
    extension: int | None = None
    extension_reason: str | None = None
    limit_raised_after_alert: bool = False
    limits: Limits = Limits()
    waiting_s: float | None = None
    total_waiting_s: float | None = None
    walk_up_s: float | None = None
    service_s: float | None = None
    rating_delay_s: float | None = None
    wait_over_limit: bool = False
    service_over_limit: bool = False
    waiting_exact: bool = True
    service_exact: bool = True
    exact: bool = True


# -- the device and the wire -------------------------------------------------------------------


@payload(EventType.DEVICE_STARTED)
class DeviceStarted(Payload, frozen=True, kw_only=True):
    boot_id: str
    version: str
    checkpoint_seq: int | None = None
    replayed: int = 0


@payload(EventType.DEVICE_HEARTBEAT)
class DeviceHeartbeat(Payload, frozen=True, kw_only=True):
    """The device was on in this UTC minute (``2026-11-25T08:30``)."""

    minute: str


@payload(EventType.SYNC_OVERSIZED)
class SyncOversized(Payload, frozen=True, kw_only=True):
    """Sent in place of an event too large for any message (it stays in the device's store)."""

    type: str
    bytes: int


@payload(EventType.SYNC_QUARANTINED)
class SyncQuarantined(Payload, frozen=True, kw_only=True):
    """Stored by the centre in place of an event it put aside (its ``type``, why, and the
    quarantine row that keeps it), so the sequence stays whole; also in place of an event its
    device deleted before the centre held it (``type`` empty, the reason begins ``lost:``, no
    quarantine row)."""

    type: str
    reason: str
    quarantine_id: int | None = None


# -- encoding and decoding ---------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder()
_DECODERS = {t: msgspec.json.Decoder(cls) for t, cls in PAYLOADS.items()}


def encode_payload(value: Payload | dict[str, Any]) -> bytes:
    """The JSON object of a payload (a typed one, or the plain dict of a type outside the
    contract)."""
    return _ENCODER.encode(value)


def decode_payload(event_type: str, raw: bytes | str) -> Payload | dict[str, Any]:
    """The payload of an ``event_type`` event from its JSON; a type outside the contract keeps a
    plain dict. Raises :class:`EventContractError` saying which field is wrong."""
    decoder = _DECODERS.get(event_type)
    try:
        if decoder is None:
            value = msgspec.json.decode(raw)
            if not isinstance(value, dict):
                raise EventContractError(f"{event_type}: the payload is not a JSON object")
            return value
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise EventContractError(f"{event_type}: {exc}") from None


def typed_payload(event_type: str, value: dict[str, Any] | Payload) -> Payload | dict[str, Any]:
    """``value`` (e.g. from a parsed message) as the typed payload of ``event_type``."""
    cls = PAYLOADS.get(event_type)
    if cls is None or isinstance(value, Payload):
        return value
    try:
        return msgspec.convert(value, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise EventContractError(f"{event_type}: {exc}") from None


def to_json_object(value: Payload | Part | dict[str, Any]) -> dict[str, Any]:
    """The payload (or a part of one) as plain JSON data (what is stored and sent)."""
    return value if isinstance(value, dict) else msgspec.to_builtins(value)


# -- the hash chain ----------------------------------------------------------------------------
#
# Each stored event carries ``prev``, the hash of its predecessor in the device's store; its own
# hash covers its identity, its time, its type, its payload and that ``prev``. Deleting, altering
# or reordering an event breaks the chain at the next event, for whoever holds a later one (the
# device's ``counterside store verify``, the centre). The chain of a store starts from a hash of
# the store's identity.


def canonical_payload(value: Payload | dict[str, Any]) -> bytes:
    """The payload's bytes as hashed: the contract's encoding of a typed payload (the same on
    the device and at the centre, whatever the wire did to spacing or key order), sorted JSON
    of a plain one."""
    if isinstance(value, Payload):
        return encode_payload(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


ADDED_FIELDS: dict[str, tuple[str, ...]] = {
    EventType.COUNTER_RESUMED: ("teller",),
}
"""Fields appended to a payload class after its first release, oldest first. A device of an
earlier release hashed the payload without them; whoever checks a chain also accepts the hash
made without the trailing ones that hold their defaults (``payload_variants``)."""


def payload_variants(value: Payload) -> list[bytes]:
    """The canonical bytes of ``value``, then as earlier releases encoded it: without the
    fields added since (``ADDED_FIELDS``), newest first, while they hold their defaults."""
    out = [encode_payload(value)]
    added = ADDED_FIELDS.get(value.TYPE, ())
    if not added:
        return out
    obj = msgspec.to_builtins(value)
    defaults = _defaults(type(value))
    for name in reversed(added):
        if name not in defaults or obj.get(name) != defaults[name]:
            break
        obj.pop(name)
        out.append(_ENCODER.encode(obj))
    return out


def _defaults(cls: type[Payload]) -> dict[str, Any]:
    """A payload class's fields with a default, and their JSON value."""
    names = cls.__struct_fields__
    values = cls.__struct_defaults__
    return {
        name: msgspec.to_builtins(value)
        for name, value in zip(names[len(names) - len(values) :], values, strict=True)
        if value is not msgspec.NODEFAULT
    }


def chain_start(store_id: str) -> str:
    """``prev`` of a store's first event."""
    return hashlib.sha256(f"counterside event store {store_id}".encode()).hexdigest()


def chain_hash(
    prev: str,
    seq: int,
    event_id: str,
    device_id: str,
    boot_id: str,
    mono: float,
    wall: str,
    event_type: str,
    payload: bytes,
) -> str:
    """The hash of one stored event (``wall`` in its stored form, ``payload`` canonical)."""
    head = _head(prev, seq, event_id, device_id, boot_id, mono, wall, event_type)
    return hashlib.sha256(head.encode() + b"\n" + payload).hexdigest()


_ASCII = json.encoder.encode_basestring_ascii  # how json.dumps writes a string


def _head(
    prev: str,
    seq: int,
    event_id: str,
    device_id: str,
    boot_id: str,
    mono: float,
    wall: str,
    event_type: str,
) -> str:
    """``json.dumps`` of these eight values as a list, written directly when they have their
    usual types (the same text: a test compares), through ``json.dumps`` otherwise."""
    if (
        type(seq) is int
        and type(mono) is float
        and math.isfinite(mono)
        and type(prev) is str
        and type(event_id) is str
        and type(device_id) is str
        and type(boot_id) is str
        and type(wall) is str
        and type(event_type) is str
    ):
        return (
            f"[{_ASCII(prev)}, {int.__repr__(seq)}, {_ASCII(event_id)}, {_ASCII(device_id)}, "
            f"{_ASCII(boot_id)}, {float.__repr__(mono)}, {_ASCII(wall)}, {_ASCII(event_type)}]"
        )
    return json.dumps([prev, seq, event_id, device_id, boot_id, mono, wall, event_type])


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainEvent:
    """What happened: its ``type``, when (``at``) and its typed ``payload``."""

    type: str
    at: Instant
    payload: Payload | dict[str, Any] = field(default_factory=dict)


def event(at: Instant, body: Payload) -> DomainEvent:
    """The event whose payload is ``body`` (its type comes from the payload's class)."""
    return DomainEvent(body.TYPE, at, body)


@dataclass(frozen=True)
class StoredEvent:
    """A domain event as stored: identity, order, origin and both clock readings."""

    seq: int
    id: str
    device_id: str
    boot_id: str
    mono: float
    wall: datetime
    type: str
    payload: Payload | dict[str, Any]
    prev: str = ""  # the hash of the event before it in its store (the chain above)

    @property
    def at(self) -> Instant:
        return Instant(self.mono, self.wall, self.boot_id)

    def chain_hash(self) -> str:
        """This event's hash, which the next event of its store carries as ``prev``."""
        payload = canonical_payload(typed_payload(self.type, self.payload))
        return chain_hash(
            self.prev,
            self.seq,
            self.id,
            self.device_id,
            self.boot_id,
            self.mono,
            wall_text(self.wall),
            self.type,
            payload,
        )

    def to_dict(self) -> dict:
        """JSON-ready form; ``wall`` as an ISO-8601 string in UTC."""
        return {
            "seq": self.seq,
            "id": self.id,
            "device_id": self.device_id,
            "boot_id": self.boot_id,
            "mono": self.mono,
            "wall": self.wall.isoformat(),
            "type": self.type,
            "payload": to_json_object(self.payload),
            "prev": self.prev,
        }

    @classmethod
    def from_dict(cls, data: dict) -> StoredEvent:
        """From :meth:`to_dict`'s form; the payload typed (:class:`EventContractError`)."""
        return cls(
            seq=int(data["seq"]),
            id=str(data["id"]),
            device_id=str(data["device_id"]),
            boot_id=str(data["boot_id"]),
            mono=float(data["mono"]),
            wall=datetime.fromisoformat(data["wall"]),
            type=str(data["type"]),
            payload=typed_payload(str(data["type"]), dict(data["payload"])),
            prev=str(data.get("prev", "")),
        )
