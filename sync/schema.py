"""The sync wire format, version 1: JSON messages, encoded and parsed with reasons for rejection.

Every message is a UTF-8 JSON object with ``"v": 1``, a ``"kind"`` and the ``"device"`` it is
about (which must match the device in the topic). Kinds (see ``docs/protocol.md``):

- ``events``  device -> centre: ``{"store", "events": [{seq, id, boot, mono, wall, type, payload},
  ...]}``, seqs contiguous and increasing within the batch.
- ``ack``     centre -> device: ``{"store", "upto": N}``, every event of that store up to seq N is
  stored at the centre.
- ``resend``  centre -> device: ``{"store", "from": A, "to": B}``, please publish seqs A..B again.

``store`` is the identity of the device's event store (``EventStore.store_id``: a UUID, or ``''``
for a store older than identities; a missing field means ``''``). Seqs count within one store, so
an ack or a resend request is only ever applied by the store it names.
- ``status``  device -> anyone, retained: ``{"state": "online"|"offline", "at", "boot", "reason"}``.

Parsers raise :class:`SchemaError` whose ``reason`` says what is wrong, never anything else.
Unknown fields are ignored (additive changes stay version 1); anything else is a new version.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import StoredEvent, to_json_object
from sync import topics

VERSION = 1
MAX_MESSAGE_BYTES = topics.MAX_PAYLOAD_BYTES
"""Largest message either side accepts (the broker's ``message_size_limit``)."""
MAX_BATCH_EVENTS = 1000
STATES = ("online", "offline")

_DUMP = {"ensure_ascii": False, "separators": (",", ":"), "allow_nan": False}


class SchemaError(ValueError):
    """A message that does not parse; ``reason`` is a one-line explanation for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EventBatch:
    device: str
    events: tuple[StoredEvent, ...]
    store: str = ""

    @property
    def first(self) -> int:
        return self.events[0].seq

    @property
    def last(self) -> int:
        return self.events[-1].seq


@dataclass(frozen=True)
class Ack:
    device: str
    upto: int
    store: str = ""


@dataclass(frozen=True)
class ResendRequest:
    device: str
    first: int
    last: int
    store: str = ""


@dataclass(frozen=True)
class Status:
    device: str
    state: str
    at: str | None = None
    boot: str | None = None
    reason: str | None = None


# --- encoding ----------------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    return json.dumps(obj, **_DUMP)


def encode_event(event: StoredEvent) -> bytes:
    """One event as it appears inside a batch (the device is named once, by the batch)."""
    return _dumps(
        {
            "seq": event.seq,
            "id": event.id,
            "boot": event.boot_id,
            "mono": event.mono,
            "wall": event.wall.isoformat(),
            "type": event.type,
            "payload": to_json_object(event.payload),
        }
    ).encode()


def batch_envelope_size(device: str, store: str = "") -> int:
    """Bytes a batch message adds around its events (plus one comma between two events)."""
    return len(_batch_bytes(device, store, []))


def _batch_bytes(device: str, store: str, encoded: Sequence[bytes]) -> bytes:
    head = _dumps({"v": VERSION, "kind": "events", "device": device, "store": store})[:-1]
    return (head + ',"events":[').encode() + b",".join(encoded) + b"]}"


def encode_batch(device: str, events: Iterable[StoredEvent | bytes], *, store: str = "") -> bytes:
    """An ``events`` message of store ``store``; items may be events or their
    :func:`encode_event` bytes."""
    encoded = [e if isinstance(e, bytes) else encode_event(e) for e in events]
    if not encoded:
        raise ValueError("a batch holds at least one event")
    return _batch_bytes(device, store, encoded)


def encode_ack(device: str, upto: int, *, store: str = "") -> bytes:
    body = {"v": VERSION, "kind": "ack", "device": device, "store": store, "upto": upto}
    return _dumps(body).encode()


def encode_resend(device: str, first: int, last: int, *, store: str = "") -> bytes:
    body = {"v": VERSION, "kind": "resend", "device": device, "store": store}
    return _dumps({**body, "from": first, "to": last}).encode()


def encode_status(status: Status) -> bytes:
    body: dict[str, Any] = {"v": VERSION, "kind": "status", "device": status.device}
    body["state"] = status.state
    for key in ("at", "boot", "reason"):
        if getattr(status, key) is not None:
            body[key] = getattr(status, key)
    return _dumps(body).encode()


# --- parsing -----------------------------------------------------------------------------------


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


def _envelope(payload: bytes | str, kind: str, topic_device: str | None) -> dict:
    obj = json_envelope(payload, kind)
    device = json_text(obj, "device")
    if topic_device is not None and device != topic_device:
        raise SchemaError(f"device {device!r} in the payload does not match {topic_device!r}")
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


def _wall(obj: dict, where: str) -> datetime:
    text = json_field(obj, "wall", str, where)
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise SchemaError(f"field 'wall'{where} is not an ISO-8601 time: {text!r}") from None
    if wall.utcoffset() is None:
        raise SchemaError(f"field 'wall'{where} has no UTC offset: {text!r}")
    return wall


def _event(item: object, device: str, index: int) -> StoredEvent:
    where = f" of event {index}"
    if not isinstance(item, dict):
        raise SchemaError(f"event {index} is not an object but {json_type(item)}")
    mono = json_field(item, "mono", (int, float), where)
    if (isinstance(mono, int) and abs(mono) > 1e300) or not math.isfinite(mono):
        raise SchemaError(f"field 'mono'{where} must be finite")
    return StoredEvent(
        seq=_seq(item, "seq", where),
        id=json_text(item, "id", where),
        device_id=device,
        boot_id=json_field(item, "boot", str, where),
        mono=float(mono),
        wall=_wall(item, where),
        type=json_text(item, "type", where),
        payload=json_field(item, "payload", dict, where),
    )


def parse_batch(payload: bytes | str, topic_device: str | None = None) -> EventBatch:
    """An ``events`` message; ``topic_device`` is the device named by the topic it came on."""
    obj = _envelope(payload, "events", topic_device)
    items = json_field(obj, "events", list)
    if not items:
        raise SchemaError("field 'events' is empty")
    if len(items) > MAX_BATCH_EVENTS:
        raise SchemaError(f"too many events in one batch: {len(items)} > {MAX_BATCH_EVENTS}")
    device = obj["device"]
    events = tuple(_event(item, device, i) for i, item in enumerate(items))
    for i in range(1, len(events)):
        if events[i].seq != events[i - 1].seq + 1:
            raise SchemaError(
                f"seqs not contiguous: event {i} has seq {events[i].seq} "
                f"after seq {events[i - 1].seq}"
            )
    return EventBatch(device, events, store_of(obj))


def parse_ack(payload: bytes | str, topic_device: str | None = None) -> Ack:
    obj = _envelope(payload, "ack", topic_device)
    upto = json_field(obj, "upto", int)
    if upto < 0:
        raise SchemaError(f"field 'upto' must be >= 0, not {upto}")
    return Ack(obj["device"], upto, store_of(obj))


def parse_resend(payload: bytes | str, topic_device: str | None = None) -> ResendRequest:
    obj = _envelope(payload, "resend", topic_device)
    first, last = _seq(obj, "from"), _seq(obj, "to")
    if last < first:
        raise SchemaError(f"empty range: 'to' ({last}) is before 'from' ({first})")
    return ResendRequest(obj["device"], first, last, store_of(obj))


def parse_status(payload: bytes | str, topic_device: str | None = None) -> Status:
    obj = _envelope(payload, "status", topic_device)
    state = json_field(obj, "state", str)
    if state not in STATES:
        raise SchemaError(f"field 'state' must be one of {', '.join(STATES)}, not {state!r}")
    optional = {}
    for key in ("at", "boot", "reason"):
        if obj.get(key) is not None:
            optional[key] = json_field(obj, key, str)
    return Status(obj["device"], state, **optional)
