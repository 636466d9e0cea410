"""The sync messages, version 1: events batches, acks, resend requests and status (``sync.wire``
reads and writes the envelope; ``docs/protocol.md`` has the examples).

- ``events``  device -> centre: ``{"device", "store", "events": [{seq, id, boot, mono, wall, type,
  payload}, ...]}``, seqs contiguous and increasing within the batch.
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

from domain.events import EventContractError, StoredEvent, typed_payload
from sync import wire
from sync.wire import MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES
from sync.wire import SchemaError as SchemaError
from sync.wire import Seq, Text, check_store, encode, read

MAX_BATCH_EVENTS = 1000
STATES = ("online", "offline")


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


class Events(wire.Message, frozen=True, kw_only=True):
    """A batch: 1 to ``MAX_BATCH_EVENTS`` events of one store, seqs contiguous."""

    KIND: ClassVar[str] = "events"

    device: Text
    store: str = ""
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


class Ack(wire.Message, frozen=True):
    """Every event of ``store`` up to ``upto`` is stored at the centre (0: none yet)."""

    KIND: ClassVar[str] = "ack"

    device: Text
    upto: Annotated[int, msgspec.Meta(ge=0)]
    store: str = ""

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


@dataclass(frozen=True)
class EventBatch:
    """A batch as the centre files it; ``unfit`` maps the seq of each event whose payload does
    not fit the event contract to the reason (computed here, however the batch was made)."""

    device: str
    events: tuple[StoredEvent, ...]
    store: str = ""
    unfit: dict[int, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        unfit = {}
        for event in self.events:
            try:
                typed_payload(event.type, event.payload)
            except EventContractError as exc:
                unfit[event.seq] = str(exc)
        object.__setattr__(self, "unfit", unfit)

    @property
    def first(self) -> int:
        return self.events[0].seq

    @property
    def last(self) -> int:
        return self.events[-1].seq


# --- encoding ----------------------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder()


def encode_event(event: StoredEvent) -> bytes:
    """One event as it appears inside a batch; ``wall`` as ``isoformat()`` writes it."""
    return _ENCODER.encode(
        {
            "seq": event.seq,
            "id": event.id,
            "boot": event.boot_id,
            "mono": event.mono,
            "wall": event.wall.isoformat(),
            "type": event.type,
            "payload": event.payload,
        }
    )


def batch_envelope_size(device: str, store: str = "") -> int:
    """Bytes a batch message adds around its events (plus one comma between two events)."""
    return len(_batch_bytes(device, store, []))


def _batch_bytes(device: str, store: str, encoded: Sequence[bytes]) -> bytes:
    empty = encode(Events(device=device, store=store, events=[]))  # …,"events":[]}
    return empty[:-2] + b",".join(encoded) + b"]}"


def encode_batch(device: str, events: Iterable[StoredEvent | bytes], *, store: str = "") -> bytes:
    """An ``events`` message of store ``store``; items may be events or their
    :func:`encode_event` bytes."""
    encoded = [e if isinstance(e, bytes) else encode_event(e) for e in events]
    if not encoded:
        raise ValueError("a batch holds at least one event")
    return _batch_bytes(device, store, encoded)


def encode_ack(device: str, upto: int, *, store: str = "") -> bytes:
    return encode(Ack(device, upto, store))


def encode_resend(device: str, first: int, last: int, *, store: str = "") -> bytes:
    return encode(ResendRequest(device, first, last, store))


def encode_status(status: Status) -> bytes:
    return encode(status)


# --- parsing -----------------------------------------------------------------------------------


def parse_batch(payload: bytes | str, topic_device: str | None = None) -> EventBatch:
    """An ``events`` message; ``topic_device`` is the device named by the topic it came on."""
    batch = read(payload, Events, topic_device)
    events = tuple(
        StoredEvent(e.seq, e.id, batch.device, e.boot, e.mono, e.wall, e.type, e.payload)
        for e in batch.events
    )
    return EventBatch(batch.device, events, batch.store)


def parse_ack(payload: bytes | str, topic_device: str | None = None) -> Ack:
    return read(payload, Ack, topic_device)


def parse_resend(payload: bytes | str, topic_device: str | None = None) -> ResendRequest:
    return read(payload, ResendRequest, topic_device)


def parse_status(payload: bytes | str, topic_device: str | None = None) -> Status:
    return read(payload, Status, topic_device)


# --- the old readers' helpers, until the queue protocol and the downlink use sync.wire ------

import json  # noqa: E402
import uuid  # noqa: E402

from sync.wire import VERSION  # noqa: E402


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for rejection reasons."""
    return "null" if value is None else type(value).__name__


def _kind_names(kinds: tuple[type, ...]) -> str:
    numeric = float in kinds  # int and float together are simply "a number"
    names = ["null" if k is type(None) else k.__name__ for k in kinds if not (numeric and k is int)]
    return " or ".join("number" if n == "float" else n for n in names)


def json_field(obj: dict, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """``obj[key]`` if present and of ``kind``, else :class:`SchemaError` saying why."""
    if key not in obj:
        raise SchemaError(f"missing field {key!r}{where}")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wrong = isinstance(value, bool) and bool not in kinds  # JSON true is not an integer
    if wrong or not isinstance(value, kinds):
        raise SchemaError(
            f"field {key!r}{where} must be {_kind_names(kinds)}, not {json_type(value)}"
        )
    return value


def json_text(obj: dict, key: str, where: str = "") -> str:
    """A non-empty string field."""
    value = json_field(obj, key, str, where)
    if not value:
        raise SchemaError(f"field {key!r}{where} must not be empty")
    return value


def _seq(obj: dict, key: str, where: str = "") -> int:
    value = json_field(obj, key, int, where)
    if not 1 <= value < 2**63:  # SQLite's INTEGER
        raise SchemaError(f"field {key!r}{where} must be a sequence number >= 1, not {value}")
    return value


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that refuses an object naming a key twice (``"seq":6,…,"seq":999`` would
    otherwise silently mean 999); every failure is a :class:`SchemaError` with the reason."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise SchemaError(f"duplicate key {exc.key!r} in a JSON object") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not JSON: {exc}") from None
    except RecursionError:
        raise SchemaError("not JSON: nested too deeply") from None


def json_envelope(payload: bytes | str, kind: str, version: int = VERSION) -> dict:
    """A message's JSON object, checked for size, UTF-8, JSON, protocol ``version`` and
    ``kind``; anything else is a :class:`SchemaError` with the reason."""
    size = len(payload)
    if size > MAX_MESSAGE_BYTES:
        raise SchemaError(f"message too large: {size} bytes > {MAX_MESSAGE_BYTES}")
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes | bytearray) else payload
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not UTF-8: {exc}") from None
    obj = loads_strict(text)
    if not isinstance(obj, dict):
        raise SchemaError(f"not a JSON object but {json_type(obj)}")
    if "v" not in obj:
        raise SchemaError("missing field 'v' (protocol version)")
    got_version = obj["v"]
    if got_version != version or isinstance(got_version, bool):
        raise SchemaError(f"unsupported version {got_version!r} (this software speaks v{version})")
    got = json_field(obj, "kind", str)
    if got != kind:
        raise SchemaError(f"kind {got!r} where {kind!r} was expected")
    return obj


def store_of(obj: dict) -> str:
    """The store a message concerns: a canonical (lower-case) UUID, or ``''`` (also if absent)."""
    if "store" not in obj:
        return ""
    store = json_field(obj, "store", str)
    if store:
        try:
            canonical = str(uuid.UUID(store))
        except ValueError:
            canonical = None
        if canonical != store:
            raise SchemaError(f"field 'store' must be a UUID (or empty), not {store[:64]!r}")
    return store
