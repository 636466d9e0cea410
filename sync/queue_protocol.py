"""The branch queue over MQTT, version 1: message shapes, encoders and parsers with reasons.

Every message is a UTF-8 JSON object with ``"v": 1`` and a ``"kind"`` (see
``docs/protocol-queue-and-config.md``):

- ``queue_req``   counter -> service on ``queue/req/<device>``:
  ``{"device", "id", "op", "counter", "ttl_s", ...arguments of the op}``
- ``queue_resp``  service -> counter on ``queue/resp/<device>``:
  ``{"device", "id", "op", "ok": true, "result": {...}}`` or ``{..., "ok": false, "error",
  "message"}``
- ``queue_call``  service -> boards, announcers on ``queue/calls``: one call or recall
- ``queue_state`` service -> everyone on ``queue/state`` (retained): waiting counts, what each
  counter would call next, the current calls

Parsers raise :class:`sync.schema.SchemaError` whose ``reason`` says what is wrong. Unknown fields
are ignored (additive changes stay version 1).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.clock import Instant
from domain.tickets import Ticket
from sync.schema import SchemaError, json_envelope, store_of
from sync.schema import json_field as _field
from sync.schema import json_text as _text
from sync.schema import json_type as _type_name

VERSION = 1

ISSUE, CALL_NEXT, CALL_SPECIFIC, RECALL = "issue", "call_next", "call_specific", "recall"
NO_SHOW, SERVED, TRANSFER, HELD = "no_show", "served", "transfer", "held"
OPS = (ISSUE, CALL_NEXT, CALL_SPECIFIC, RECALL, NO_SHOW, SERVED, TRANSFER, HELD)
MUTATING = frozenset(OPS) - {HELD}
"""Operations that change the queue: applied once per request id, answered from the cache after."""

# Errors a response may carry.
QUEUE_ERROR = "queue_error"  # the queue refused (the message says why): a teller's mistake
BAD_REQUEST = "bad_request"  # the request does not parse or reuses an id: a bug
SERVICE_ERROR = "service_error"  # the service could not store the change: nothing was applied
ERRORS = (QUEUE_ERROR, BAD_REQUEST, SERVICE_ERROR)

REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_TTL_S = 3600.0
_DUMP: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":"), "allow_nan": False}


# --- message types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRequest:
    """One operation asked of the queue service.

    ``ttl_s`` is how long the asker waits for the answer; the service drops a new request that
    waited longer than that in its inbox (nobody awaits the answer any more). ``None`` (``served``
    and ``no_show``, retried until answered) never goes stale.
    """

    device: str
    id: str
    op: str
    counter: int | None = None
    args: dict[str, Any] = field(default_factory=dict)
    ttl_s: float | None = None


@dataclass(frozen=True)
class QueueResponse:
    """The answer to one request: ``result`` if ``ok``, else ``error`` (one of ERRORS) and text."""

    device: str
    id: str
    op: str
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class WireEntry:
    """A queue entry as the service sends it: ``waited_s`` is measured by the service from the
    entry's ``queued_at`` (its own clock) to the moment it answered, so the receiver can place
    ``queued_at`` in its own clock frame (see :meth:`local_queued_at`)."""

    ticket: Ticket
    business_type: str
    queued_at: Instant
    waited_s: float
    counter: int | None = None

    def local_queued_at(self, at: Instant) -> Instant:
        """``queued_at`` in the clock frame of ``at`` (the receiver's instant of the answer)."""
        w = self.waited_s
        return Instant(at.mono - w, at.wall - timedelta(seconds=w), at.boot)


@dataclass(frozen=True)
class QueueCall:
    """A ticket called (``call`` 1) or recalled (``call`` 2, 3, ...) to a counter."""

    seq: int
    ticket: str
    ticket_id: str
    business_type: str
    counter: int
    call: int
    at: str


@dataclass(frozen=True)
class CounterView:
    """What one counter sees of the queue: its business types, how many tickets it could call
    now (``has_work``) and the numbers it would call next, best guess first."""

    serves: tuple[str, ...]
    has_work: int
    upcoming: tuple[str, ...]


@dataclass(frozen=True)
class CurrentCall:
    counter: int
    ticket: str
    ticket_id: str
    business_type: str
    calls: int


@dataclass(frozen=True)
class QueueState:
    """The queue as everyone may see it. ``seq`` is the service's last stored event: it only grows
    within the service's event store ``store`` (its ``EventStore.store_id``); a controller on a
    new store counts from 0 again, so a state of another store is newer news, whatever its seq."""

    seq: int
    at: str
    day: str | None
    waiting: dict[str, int]
    counters: dict[int, CounterView]
    current: tuple[CurrentCall, ...]
    store: str = ""

    def supersedes(self, other: QueueState | None) -> bool:
        """Whether a receiver holding ``other`` should take this state instead."""
        return other is None or self.store != other.store or self.seq >= other.seq


# --- encoding ----------------------------------------------------------------------------------


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, **_DUMP).encode()


def encode_request(req: QueueRequest) -> bytes:
    body: dict[str, Any] = {"v": VERSION, "kind": "queue_req", "device": req.device}
    body.update(id=req.id, op=req.op)
    if req.counter is not None:  # ``issue`` names no counter
        body["counter"] = req.counter
    body.update(ttl_s=req.ttl_s, **req.args)
    return _dumps(body)


def encode_response(resp: QueueResponse) -> bytes:
    body: dict[str, Any] = {"v": VERSION, "kind": "queue_resp", "device": resp.device}
    body.update(id=resp.id, op=resp.op, ok=resp.ok)
    if resp.ok:
        body["result"] = resp.result
    else:
        body.update(error=resp.error, message=resp.message)
    return _dumps(body)


def entry_dict(info: dict[str, Any], waited_s: float, counter: int | None) -> dict[str, Any]:
    """A wire entry from a queue event's ``ticket`` payload (``Entry.info()``)."""
    return {"ticket": info, "waited_s": round(waited_s, 6), "counter": counter}


def encode_call(call: QueueCall) -> bytes:
    body: dict[str, Any] = {"v": VERSION, "kind": "queue_call"}
    body.update(call.__dict__)
    return _dumps(body)


def encode_state(state: QueueState) -> bytes:
    counters = {
        str(n): {"serves": list(c.serves), "has_work": c.has_work, "upcoming": list(c.upcoming)}
        for n, c in sorted(state.counters.items())
    }
    body: dict[str, Any] = {"v": VERSION, "kind": "queue_state", "store": state.store}
    body.update(seq=state.seq, at=state.at, day=state.day, waiting=state.waiting, counters=counters)
    body["current"] = [c.__dict__ for c in state.current]
    return _dumps(body)


# --- parsing -----------------------------------------------------------------------------------


def _counter(obj: dict, key: str = "counter", where: str = "") -> int:
    value = _field(obj, key, int, where)
    if value < 1:
        raise SchemaError(f"field {key!r}{where} must be a counter number >= 1, not {value}")
    return value


def _envelope(payload: bytes | str, kind: str) -> dict:
    return json_envelope(payload, kind, VERSION)


def _device(obj: dict, topic_device: str | None) -> str:
    device = _text(obj, "device")
    if topic_device is not None and device != topic_device:
        raise SchemaError(f"device {device!r} in the payload does not match {topic_device!r}")
    return device


def _request_id(obj: dict) -> str:
    rid = _field(obj, "id", str)
    if not REQUEST_ID.fullmatch(rid):
        raise SchemaError(f"field 'id' must match {REQUEST_ID.pattern}, not {rid!r}")
    return rid


def _op(obj: dict) -> str:
    op = _field(obj, "op", str)
    if op not in OPS:
        raise SchemaError(f"unknown op {op!r} (known: {', '.join(OPS)})")
    return op


def request_id_of(payload: bytes | str) -> tuple[str, str] | None:
    """(id, op) of a request that may fail to parse otherwise, to answer it with the reason."""
    try:
        obj = json.loads(payload)
        rid, op = obj["id"], obj["op"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    if isinstance(rid, str) and REQUEST_ID.fullmatch(rid) and isinstance(op, str):
        return rid, op[:32]
    return None


def parse_request(payload: bytes | str, topic_device: str | None = None) -> QueueRequest:
    """A ``queue_req``; ``topic_device`` is the device named by the topic it came on."""
    obj = _envelope(payload, "queue_req")
    device, rid, op = _device(obj, topic_device), _request_id(obj), _op(obj)
    ttl = _field(obj, "ttl_s", (int, float, type(None))) if "ttl_s" in obj else None
    if ttl is not None and not (0 < ttl <= MAX_TTL_S and math.isfinite(ttl)):
        raise SchemaError(f"field 'ttl_s' must be > 0 and <= {MAX_TTL_S:g}, not {ttl}")
    args: dict[str, Any] = {}
    counter: int | None = None
    if op == ISSUE:
        args["business_type"] = _text(obj, "business_type")
        priority = obj.get("priority")
        if priority is not None:
            priority = _text(obj, "priority")
        args["priority"] = priority
    else:
        counter = _counter(obj)
    if op == CALL_SPECIFIC:
        args["number"] = _text(obj, "number")
    if op in (RECALL, NO_SHOW, SERVED, TRANSFER):
        args["ticket_id"] = _text(obj, "ticket_id")
    if op == TRANSFER:
        to_type = obj.get("to_business_type")
        to_counter = obj.get("to_counter")
        if (to_type is None) == (to_counter is None):
            raise SchemaError("transfer needs exactly one of 'to_business_type' and 'to_counter'")
        args["to_business_type"] = None if to_type is None else _text(obj, "to_business_type")
        args["to_counter"] = None if to_counter is None else _counter(obj, "to_counter")
    return QueueRequest(device, rid, op, counter, args, None if ttl is None else float(ttl))


def parse_response(payload: bytes | str, topic_device: str | None = None) -> QueueResponse:
    """A ``queue_resp``; the ``result`` is checked by :func:`parse_result` for its op."""
    obj = _envelope(payload, "queue_resp")
    device, rid = _device(obj, topic_device), _request_id(obj)
    op = _field(obj, "op", str)
    ok = _field(obj, "ok", bool)
    if ok:
        return QueueResponse(device, rid, op, True, _field(obj, "result", dict))
    error = _field(obj, "error", str)
    if error not in ERRORS:
        raise SchemaError(f"unknown error {error!r} (known: {', '.join(ERRORS)})")
    return QueueResponse(device, rid, op, False, error=error, message=_field(obj, "message", str))


def _instant(obj: dict, key: str, where: str) -> Instant:
    value = _field(obj, key, dict, where)
    try:
        instant = Instant.from_dict(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"field {key!r}{where} is not an instant: {exc}") from None
    if not math.isfinite(instant.mono) or instant.wall.utcoffset() is None:
        raise SchemaError(f"field {key!r}{where} needs a finite mono and a wall time with offset")
    return instant


def parse_ticket(value: object, where: str = "") -> Ticket:
    if not isinstance(value, dict):
        raise SchemaError(f"ticket{where} is not an object but {_type_name(value)}")
    try:
        ticket = Ticket.from_dict(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"ticket{where} is incomplete or malformed: {exc!r}") from None
    if value.get("id") not in (None, ticket.id):
        raise SchemaError(f"ticket{where}: id {value.get('id')!r} does not match its number/day")
    return ticket


def parse_entry(value: object, where: str = "") -> WireEntry:
    if not isinstance(value, dict):
        raise SchemaError(f"entry{where} is not an object but {_type_name(value)}")
    info = _field(value, "ticket", dict, where)
    waited = _field(value, "waited_s", (int, float), where)
    if not (math.isfinite(waited) and waited >= 0):
        raise SchemaError(f"field 'waited_s'{where} must be a finite number >= 0, not {waited}")
    counter = value.get("counter")
    if counter is not None:
        counter = _counter(value, "counter", where)
    return WireEntry(
        ticket=parse_ticket(info, where),
        business_type=_text(info, "business_type", where),
        queued_at=_instant(info, "queued_at", where),
        waited_s=float(waited),
        counter=counter,
    )


@dataclass(frozen=True)
class IssueResult:
    ticket: Ticket
    ahead: int


@dataclass(frozen=True)
class CallResult:
    entry: WireEntry | None


@dataclass(frozen=True)
class HeldResult:
    entries: tuple[WireEntry, ...]


def parse_result(op: str, result: dict) -> IssueResult | CallResult | HeldResult | None:
    """The typed ``result`` of a successful answer to ``op`` (None for ops without one)."""
    if op == ISSUE:
        ahead = _field(result, "ahead", int)
        return IssueResult(parse_ticket(result.get("ticket"), " in the result"), ahead)
    if op in (CALL_NEXT, CALL_SPECIFIC):
        entry = _field(result, "entry", (dict, type(None)))
        if entry is None and op == CALL_SPECIFIC:
            raise SchemaError("call_specific answered without an entry")
        return CallResult(None if entry is None else parse_entry(entry, " in the result"))
    if op == HELD:
        items = _field(result, "entries", list)
        return HeldResult(tuple(parse_entry(e, f" {i}") for i, e in enumerate(items)))
    if op not in OPS:
        raise SchemaError(f"unknown op {op!r}")
    return None


def parse_call(payload: bytes | str) -> QueueCall:
    obj = _envelope(payload, "queue_call")
    seq, call = _field(obj, "seq", int), _field(obj, "call", int)
    if seq < 1 or call < 1:
        raise SchemaError(f"fields 'seq' and 'call' must be >= 1, not {seq} and {call}")
    at = _text(obj, "at")
    _check_time(at, "at")
    return QueueCall(
        seq=seq,
        ticket=_text(obj, "ticket"),
        ticket_id=_text(obj, "ticket_id"),
        business_type=_text(obj, "business_type"),
        counter=_counter(obj),
        call=call,
        at=at,
    )


def _check_time(text: str, key: str) -> None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SchemaError(f"field {key!r} is not an ISO-8601 time: {text!r}") from None
    if when.utcoffset() is None:
        raise SchemaError(f"field {key!r} has no UTC offset: {text!r}")


def parse_state(payload: bytes | str) -> QueueState:
    obj = _envelope(payload, "queue_state")
    seq = _field(obj, "seq", int)
    if seq < 0:
        raise SchemaError(f"field 'seq' must be >= 0, not {seq}")
    at = _text(obj, "at")
    _check_time(at, "at")
    day = _field(obj, "day", (str, type(None)))
    waiting = _field(obj, "waiting", dict)
    for code, n in waiting.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SchemaError(f"waiting count of {code!r} must be an integer >= 0, not {n!r}")
    counters: dict[int, CounterView] = {}
    for key, view in _field(obj, "counters", dict).items():
        where = f" of counter {key!r}"
        if not (key.isascii() and key.isdigit() and int(key) >= 1) or not isinstance(view, dict):
            raise SchemaError(f"counters: {key!r} must map a counter number to an object")
        serves, upcoming = (
            _field(view, "serves", list, where),
            _field(view, "upcoming", list, where),
        )
        if not all(isinstance(s, str) for s in serves + upcoming):
            raise SchemaError(f"'serves' and 'upcoming'{where} must hold strings")
        has_work = _field(view, "has_work", int, where)
        counters[int(key)] = CounterView(tuple(serves), has_work, tuple(upcoming))
    current = []
    for i, item in enumerate(_field(obj, "current", list)):
        where = f" of current call {i}"
        if not isinstance(item, dict):
            raise SchemaError(f"current call {i} is not an object")
        current.append(
            CurrentCall(
                counter=_counter(item, "counter", where),
                ticket=_text(item, "ticket", where),
                ticket_id=_text(item, "ticket_id", where),
                business_type=_text(item, "business_type", where),
                calls=_field(item, "calls", int, where),
            )
        )
    return QueueState(seq, at, day, dict(waiting), counters, tuple(current), store_of(obj))
