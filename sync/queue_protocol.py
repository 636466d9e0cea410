"""The branch queue over MQTT, version 1: the messages, as msgspec Structs read and written by
``sync.wire`` (see ``docs/protocol-queue-and-config.md``):

- ``queue_req``   counter -> service on ``queue/req/<device>``:
  ``{"device", "id", "op", "counter", "ttl_s", ...arguments of the op}``
- ``queue_resp``  service -> counter on ``queue/resp/<device>``:
  ``{"device", "id", "op", "ok": true, "result": {...}}`` or ``{..., "ok": false, "error",
  "message"}``
- ``queue_call``  service -> boards, announcers on ``queue/calls``: one call or recall
- ``queue_state`` service -> everyone on ``queue/state`` (retained): waiting counts, what each
  counter would call next, the current calls

Parsers raise :class:`sync.wire.SchemaError` whose ``reason`` says what is wrong. Unknown fields
are ignored (additive changes stay version 1).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

import msgspec

from domain.clock import Instant
from domain.events import QueuedTicket, TicketInfo
from domain.tickets import Ticket
from sync import wire
from sync.wire import CounterNumber, SchemaError, Seq, Text, check_store, check_time, encode, read

ISSUE: Final = "issue"
CALL_NEXT: Final = "call_next"
CALL_SPECIFIC: Final = "call_specific"
RECALL: Final = "recall"
NO_SHOW: Final = "no_show"
SERVED: Final = "served"
TRANSFER: Final = "transfer"
HELD: Final = "held"
OPS = (ISSUE, CALL_NEXT, CALL_SPECIFIC, RECALL, NO_SHOW, SERVED, TRANSFER, HELD)
MUTATING = frozenset(OPS) - {HELD}
"""Operations that change the queue: applied once per request id, answered from the cache after."""
Op = Literal[
    "issue", "call_next", "call_specific", "recall", "no_show", "served", "transfer", "held"
]

# Errors a response may carry.
QUEUE_ERROR: Final = "queue_error"  # the queue refused (the message says why): a teller's mistake
BAD_REQUEST: Final = "bad_request"  # the request does not parse or reuses an id: a bug
SERVICE_ERROR: Final = "service_error"  # the service could not store the change: nothing applied
ERRORS = (QUEUE_ERROR, BAD_REQUEST, SERVICE_ERROR)
Error = Literal["queue_error", "bad_request", "service_error"]

MAX_TTL_S = 3600.0
RequestId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_NEEDS: dict[str, tuple[str, ...]] = {
    ISSUE: ("business_type",),
    CALL_SPECIFIC: ("number",),
    RECALL: ("ticket_id",),
    NO_SHOW: ("ticket_id",),
    SERVED: ("ticket_id",),
    TRANSFER: ("ticket_id",),
}
"""Arguments each op needs; every op but ``issue`` names a counter."""


# --- requests and answers ----------------------------------------------------------------------


class QueueRequest(wire.Message, frozen=True, omit_defaults=True):
    """One operation asked of the queue service, with the arguments of its op.

    ``ttl_s`` is how long the asker waits for the answer; the service drops a new request that
    waited longer than that in its inbox (nobody awaits the answer any more). ``None`` (``served``
    and ``no_show``, retried until answered) never goes stale.
    """

    KIND: ClassVar[str] = "queue_req"

    device: Text
    id: RequestId
    op: Op
    counter: CounterNumber | None = None  # ``issue`` names none
    ttl_s: Annotated[float, msgspec.Meta(gt=0, le=MAX_TTL_S)] | None = None
    business_type: Text | None = None  # issue
    priority: Text | None = None  # issue
    number: Text | None = None  # call_specific
    ticket_id: Text | None = None  # recall, no_show, served, transfer
    to_business_type: Text | None = None  # transfer: this, or to_counter
    to_counter: CounterNumber | None = None

    def __post_init__(self) -> None:
        if self.op != ISSUE and self.counter is None:
            raise ValueError(f"missing field 'counter' (op {self.op!r} needs it)")
        for name in _NEEDS.get(self.op, ()):
            if getattr(self, name) is None:
                raise ValueError(f"missing field {name!r} (op {self.op!r} needs it)")
        if self.op == TRANSFER and (self.to_business_type is None) == (self.to_counter is None):
            raise ValueError("transfer needs exactly one of 'to_business_type' and 'to_counter'")


class QueueResponse(wire.Message, frozen=True):
    """The answer to one request: ``result`` if ``ok``, else ``error`` (one of ERRORS) and text.
    ``result`` is read for its op by :func:`parse_result`."""

    KIND: ClassVar[str] = "queue_resp"

    device: Text
    id: RequestId
    op: str
    ok: bool
    result: dict[str, Any] = msgspec.field(default_factory=dict)
    error: Error | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if not self.ok and (self.error is None or self.message is None):
            raise ValueError("a refusal needs 'error' and 'message'")


class _RequestIds(msgspec.Struct):
    id: RequestId
    op: str


def request_id_of(payload: bytes) -> tuple[str, str] | None:
    """(id, op) of a request that may fail to parse otherwise, to answer it with the reason."""
    ids = wire.peek(payload, _RequestIds)
    return None if ids is None else (ids.id, ids.op[:32])


def encode_request(request: QueueRequest) -> bytes:
    return encode(request)


def encode_response(response: QueueResponse) -> bytes:
    return encode(response)


def parse_request(payload: bytes | str, topic_device: str | None = None) -> QueueRequest:
    """A ``queue_req``; ``topic_device`` is the device named by the topic it came on."""
    return read(payload, QueueRequest, topic_device)


def parse_response(payload: bytes | str, topic_device: str | None = None) -> QueueResponse:
    """A ``queue_resp``; the ``result`` is checked by :func:`parse_result` for its op."""
    return read(payload, QueueResponse, topic_device)


# --- results -----------------------------------------------------------------------------------


def _check_ticket(ticket: TicketInfo) -> None:
    """The ticket's id is its day and number, and its instants have a UTC offset."""
    if ticket.id != f"{ticket.business_day:%Y%m%d}-{ticket.number}":
        raise ValueError(f"ticket id {ticket.id!r} does not match its number and day")
    instants = [("issued_at", ticket.issued_at)]
    if isinstance(ticket, QueuedTicket):
        instants.append(("queued_at", ticket.queued_at))
    for name, instant in instants:
        if instant.wall.utcoffset() is None:
            raise ValueError(f"ticket {name} has no UTC offset")


class WireEntry(msgspec.Struct, frozen=True):
    """A queue entry as the service sends it: ``waited_s`` is measured by the service from the
    entry's ``queued_at`` (its own clock) to the moment it answered, so the receiver can place
    ``queued_at`` in its own clock frame (see :meth:`local_queued_at`)."""

    ticket: QueuedTicket
    waited_s: Annotated[float, msgspec.Meta(ge=0)]
    counter: CounterNumber | None = None

    def __post_init__(self) -> None:
        _check_ticket(self.ticket)

    @property
    def business_type(self) -> str:
        """The business type it queued for (after transfers)."""
        return self.ticket.business_type

    @property
    def queued_at(self) -> Instant:
        return self.ticket.queued_at

    def as_ticket(self) -> Ticket:
        return Ticket.from_info(self.ticket)

    def local_queued_at(self, at: Instant) -> Instant:
        """``queued_at`` in the clock frame of ``at`` (the receiver's instant of the answer)."""
        w = self.waited_s
        return Instant(at.mono - w, at.wall - timedelta(seconds=w), at.boot)


def entry_dict(info: dict[str, Any], waited_s: float, counter: int | None) -> dict[str, Any]:
    """A wire entry from a queue event's ``ticket`` payload (``Entry.info()``)."""
    return {"ticket": info, "waited_s": round(waited_s, 6), "counter": counter}


class IssueResult(msgspec.Struct, frozen=True):
    ticket: TicketInfo
    ahead: int

    def __post_init__(self) -> None:
        _check_ticket(self.ticket)


class CallResult(msgspec.Struct, frozen=True):
    entry: WireEntry | None  # None: nobody waits


class HeldResult(msgspec.Struct, frozen=True):
    entries: tuple[WireEntry, ...]


R = TypeVar("R", IssueResult, CallResult, HeldResult)


def _result(result: dict, cls: type[R]) -> R:
    try:
        return msgspec.convert(result, cls)
    except msgspec.ValidationError as exc:
        raise SchemaError(f"in the result: {exc}") from None


def parse_result(op: str, result: dict) -> IssueResult | CallResult | HeldResult | None:
    """The typed ``result`` of a successful answer to ``op`` (None for ops without one)."""
    if op == ISSUE:
        return _result(result, IssueResult)
    if op in (CALL_NEXT, CALL_SPECIFIC):
        call = _result(result, CallResult)
        if call.entry is None and op == CALL_SPECIFIC:
            raise SchemaError("call_specific answered without an entry")
        return call
    if op == HELD:
        return _result(result, HeldResult)
    if op not in OPS:
        raise SchemaError(f"unknown op {op!r}")
    return None


# --- what everyone sees ------------------------------------------------------------------------


class QueueCall(wire.Message, frozen=True):
    """A ticket called (``call`` 1) or recalled (``call`` 2, 3, ...) to a counter."""

    KIND: ClassVar[str] = "queue_call"

    seq: Seq
    ticket: Text
    ticket_id: Text
    business_type: Text
    counter: CounterNumber
    call: Annotated[int, msgspec.Meta(ge=1)]
    at: Text

    def __post_init__(self) -> None:
        check_time(self.at, "at")


class CounterView(msgspec.Struct, frozen=True):
    """What one counter sees of the queue: its business types, how many tickets it could call
    now (``has_work``) and the numbers it would call next, best guess first."""

    serves: tuple[str, ...]
    has_work: int
    upcoming: tuple[str, ...]


class CurrentCall(msgspec.Struct, frozen=True):
    counter: CounterNumber
    ticket: Text
    ticket_id: Text
    business_type: Text
    calls: int


class QueueState(wire.Message, frozen=True):
    """The queue as everyone may see it. ``seq`` is the service's last stored event: it only grows
    within the service's event store ``store`` (its ``EventStore.store_id``); a controller on a
    new store counts from 0 again, so a state of another store is newer news, whatever its seq."""

    KIND: ClassVar[str] = "queue_state"

    seq: Annotated[int, msgspec.Meta(ge=0)]
    at: Text
    day: str | None
    waiting: dict[str, Annotated[int, msgspec.Meta(ge=0)]]
    counters: dict[CounterNumber, CounterView]
    current: tuple[CurrentCall, ...]
    store: str = ""

    def __post_init__(self) -> None:
        check_time(self.at, "at")
        check_store(self.store)

    def supersedes(self, other: QueueState | None) -> bool:
        """Whether a receiver holding ``other`` should take this state instead."""
        return other is None or self.store != other.store or self.seq >= other.seq


def encode_call(call: QueueCall) -> bytes:
    return encode(call)


def encode_state(state: QueueState) -> bytes:
    return encode(state)


def parse_call(payload: bytes | str) -> QueueCall:
    return read(payload, QueueCall)


def parse_state(payload: bytes | str) -> QueueState:
    return read(payload, QueueState)
