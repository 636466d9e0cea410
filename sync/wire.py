"""The one reader and writer of every wire message: a JSON envelope around a typed body.

Every message is a UTF-8 JSON object ``{"v": 1, "kind": ..., <body>}``. A body is a frozen
:class:`msgspec.Struct` subclass of :class:`Message` that names its ``KIND``; the sync messages
(``sync/schema.py``), the queue protocol (``sync/queue_protocol.py``) and the configuration
downlink (``sync/config_downlink.py``) declare theirs. :func:`encode` writes the envelope and the
body; :func:`read` checks, in this order, and raises :class:`SchemaError` saying what is wrong:

1. the size (at most :data:`MAX_MESSAGE_BYTES`, the broker's limit), UTF-8 and JSON;
2. a JSON object, no key named twice in any object at any depth (msgspec alone would keep the
   last: ``"seq":6,…,"seq":999`` must not quietly mean 999);
3. ``v``: missing, or a version this software does not speak, is refused saying so;
4. ``kind`` (a body may let it be left out: ``KIND_OPTIONAL``);
5. ``device``, for bodies that name one: the device of the topic the message came on;
6. the body: every field's type and range, refused with msgspec's path to the field
   (``Expected `int` >= 1 - at `$.events[3].seq```), and the body's own rules (its
   ``__post_init__``). Fields this version does not know are ignored (additive changes stay v1).

A message exactly as :func:`encode` writes it (every message this software sends) passes all of
these by construction, so it is read in one typed pass and written back to compare; anything
else, or anything that fails, takes the checks above in order.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any, ClassVar, TypeVar

import msgspec

from sync import topics

VERSION = 1
MAX_MESSAGE_BYTES = topics.MAX_PAYLOAD_BYTES
"""Largest message either side accepts (the broker's ``message_size_limit``)."""

Text = Annotated[str, msgspec.Meta(min_length=1)]
"""A string that must not be empty."""
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
"""A sequence number: 1, 2, 3, … (SQLite's INTEGER)."""
CounterNumber = Annotated[int, msgspec.Meta(ge=1)]


class SchemaError(ValueError):
    """A message that does not parse; ``reason`` is a one-line explanation for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Message(msgspec.Struct, frozen=True):
    """The body of a wire message, without its envelope (``v`` and ``kind``)."""

    KIND: ClassVar[str]
    KIND_OPTIONAL: ClassVar[bool] = False  # a message without "kind" is taken as this one


M = TypeVar("M", bound=Message)
S = TypeVar("S", bound=msgspec.Struct)
_ENCODER = msgspec.json.Encoder()
_LAX_FLOATS = msgspec.json.Decoder(float_hook=float)  # 1e999 read as inf, refused by the body


def encode(message: Message) -> bytes:
    """The compact UTF-8 JSON of ``message``: ``{"v":1,"kind":…,`` then its fields in order."""
    body = _ENCODER.encode(message)
    head = f'{{"v":{VERSION},"kind":"{message.KIND}"'.encode()
    return head + (b"}" if body == b"{}" else b"," + body[1:])


def read(payload: bytes | str, cls: type[M], topic_device: str | None = None) -> M:
    """The ``cls`` message in ``payload``, checked as the module says; ``topic_device`` is the
    device named by the topic it came on (for bodies with a ``device``)."""
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    exact = _read_as_written(raw, cls, topic_device)
    if exact is not None:
        return exact
    obj = _json_object(raw)
    _check_envelope(obj, cls, topic_device)
    try:
        return _decoder(cls).decode(raw)
    except msgspec.ValidationError as exc:
        raise SchemaError(str(exc)) from None


def _read_as_written(raw: bytes, cls: type[M], topic_device: str | None) -> M | None:
    """Fast path: ``raw`` read as ``cls`` directly, accepted only if :func:`encode` writes the
    result back byte for byte (every message this software writes), the device matching.
    Such bytes pass every check of the module: one JSON object, each key once (the encoder
    names each field once), ``v`` and ``kind`` as expected, every field valid (the typed
    decode checked them). None otherwise: the caller takes the checked path, which says what
    is wrong, or reads what merely differs in form (a field left out, one it does not know,
    other spacing)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        message = _decoder(cls).decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    if encode(message) != raw:
        return None
    if topic_device is not None and getattr(message, "device", topic_device) != topic_device:
        return None
    return message


def _json_object(raw: bytes) -> dict[str, Any]:
    """Steps 1 and 2: the JSON object in ``raw``, every key named once."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise SchemaError(f"message too large: {len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.ValidationError:  # a number too large: let the body's type say where
            obj = _LAX_FLOATS.decode(raw)
    except msgspec.DecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise SchemaError(f"not UTF-8: {bad}") from None
        raise SchemaError(f"not JSON: {exc}") from None
    except RecursionError:
        raise SchemaError("not JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise SchemaError(f"not a JSON object but {_json_type(obj)}")
    _refuse_duplicate_keys(raw, obj)
    return obj


def _check_envelope(obj: dict[str, Any], cls: type[Message], topic_device: str | None) -> None:
    if "v" not in obj:
        raise SchemaError("missing field 'v' (protocol version)")
    version = obj["v"]
    if version != VERSION or isinstance(version, bool):
        raise SchemaError(f"unsupported version {version!r} (this software speaks v{VERSION})")
    if "kind" not in obj and not cls.KIND_OPTIONAL:
        raise SchemaError("missing field 'kind'")
    kind = obj.get("kind", cls.KIND)
    if kind != cls.KIND:
        raise SchemaError(f"kind {kind!r} where {cls.KIND!r} was expected")
    device = obj.get("device")
    if topic_device is not None and isinstance(device, str) and device != topic_device:
        raise SchemaError(f"device {device!r} in the payload does not match {topic_device!r}")


@cache
def _decoder(cls: type[S]) -> msgspec.json.Decoder[S]:
    return msgspec.json.Decoder(cls)


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for rejection reasons."""
    return "null" if value is None else type(value).__name__


# --- duplicate keys -------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _refuse_duplicate_keys(raw: bytes, obj: dict[str, Any]) -> None:
    """Refuse ``raw`` if one of its objects names a key twice (``obj`` is how msgspec read it).

    Fast path: encoding ``obj`` again gives ``raw`` byte for byte (every message this software
    writes: msgspec's compact JSON), so nothing was dropped. Otherwise the standard library reads
    ``raw`` once more, keeping every pair, and names the key.
    """
    if _ENCODER.encode(obj) == raw:
        return
    try:
        json.loads(raw, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        raise SchemaError(f"duplicate key {exc.key!r} in a JSON object") from None
    except (ValueError, RecursionError) as exc:  # msgspec read it: the stricter reader says no
        raise SchemaError(f"not JSON: {exc}") from None


def peek(payload: bytes, cls: type[S]) -> S | None:
    """``cls`` read leniently from a message that may not parse otherwise (to answer it with the
    reason): no envelope, no duplicate-key check; None if even that fails."""
    try:
        return _decoder(cls).decode(payload)
    except (msgspec.DecodeError, RecursionError):
        return None


# --- field rules shared by several messages ---------------------------------------------------


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A UUID as ``str(uuid.UUID(x))`` writes it (canonical: lower case, hyphens)."""


def check_store(store: str) -> None:
    """A store identity is a canonical (lower-case) UUID, or ``''`` (unnamed, also if absent)."""
    if store and _UUID.fullmatch(store) is None:
        raise ValueError(f"field 'store' must be a UUID (or empty), not {store[:64]!r}")


def check_time(text: str, key: str) -> None:
    """``text`` is an ISO-8601 time with a UTC offset."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"field {key!r} is not an ISO-8601 time: {text[:64]!r}") from None
    if when.utcoffset() is None:
        raise ValueError(f"field {key!r} has no UTC offset: {text[:64]!r}")
