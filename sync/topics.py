"""MQTT topic names: the one place that spells them, plus the parser and the payload limit.

Every topic starts with ``cs/v1/<branch>``. Per device (``cs/v1/<branch>/<device>/<kind>``):

=========  ==================  ==============================================================
kind       direction           meaning
=========  ==================  ==============================================================
events     device -> centre    batches of events, QoS 1
status     device -> centre    retained online/offline (also the last will)
ack        centre -> device    highest contiguous sequence the centre has stored
resend     centre -> device    please publish this range again
cmd        centre -> device    reserved
=========  ==================  ==============================================================

Per branch: ``config`` (centre -> devices, retained, versioned), ``config/result/<device>``
(device -> centre: applied or refused, with the reason), ``queue/req/<device>`` (counter ->
queue service), ``queue/resp/<device>`` (queue service -> counter), ``queue/calls`` (queue
service -> boards, announcers, counters), ``queue/state`` (retained snapshot by the controller)
``bridge`` (written by Mosquitto itself: ``1``/``0`` = the branch broker's bridge to the
central broker is up/down; retained, the ``0`` is the bridge's last will) and ``alerts`` (centre
-> branch, retained: the branch's open alerts, ``docs/centre.md``).

Branch and device ids match ``[A-Za-z0-9_-]{1,32}`` (the configuration's rule), so they can never
hold ``+``, ``#`` or ``/``. The device ids ``config``, ``queue`` and ``bridge`` are reserved: they
would make ``cs/v1/<branch>/config/#`` and similar filters ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "cs/v1"

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
RESERVED_DEVICE_IDS = frozenset({"config", "queue", "bridge"})

MAX_PAYLOAD_BYTES = 256 * 1024
"""Largest payload any publisher may send (the broker's ``message_size_limit``).

A publisher must split its batches below this: Mosquitto 2.0.11 answers a bigger QoS 1 publish
from an MQTT v5 client with PUBACK reason 0x95, which paho-mqtt 2.2 cannot decode; paho then
drops the connection and, after reconnecting, resends the same message forever.
"""

PACKET_HEADROOM_BYTES = 8 * 1024
"""Room for the fixed header, topic, packet id and properties above ``MAX_PAYLOAD_BYTES``."""


class Kind(StrEnum):
    """What a topic carries; the value is the topic's tail after ``cs/v1/<branch>/``."""

    EVENTS = "events"
    STATUS = "status"
    ACK = "ack"
    RESEND = "resend"
    CMD = "cmd"
    CONFIG = "config"
    CONFIG_RESULT = "config/result"
    QUEUE_REQ = "queue/req"
    QUEUE_RESP = "queue/resp"
    QUEUE_CALLS = "queue/calls"
    QUEUE_STATE = "queue/state"
    BRIDGE = "bridge"
    ALERTS = "alerts"


DEVICE_KINDS = frozenset({Kind.EVENTS, Kind.STATUS, Kind.ACK, Kind.RESEND, Kind.CMD})
"""Kinds laid out as ``cs/v1/<branch>/<device>/<kind>``."""

PER_DEVICE_BRANCH_KINDS = frozenset({Kind.CONFIG_RESULT, Kind.QUEUE_REQ, Kind.QUEUE_RESP})
"""Kinds laid out as ``cs/v1/<branch>/<kind>/<device>``."""

BRANCH_KINDS = frozenset(
    {Kind.CONFIG, Kind.QUEUE_CALLS, Kind.QUEUE_STATE, Kind.BRIDGE, Kind.ALERTS}
)
"""Kinds laid out as ``cs/v1/<branch>/<kind>``, without a device."""

_BRANCH_TAILS = {str(kind): kind for kind in BRANCH_KINDS}
_PER_DEVICE_HEADS = {str(kind): kind for kind in PER_DEVICE_BRANCH_KINDS}
_DEVICE_TAILS = {str(kind): kind for kind in DEVICE_KINDS}


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A parsed topic: its kind, branch and (for per-device kinds) device."""

    kind: Kind
    branch: str
    device: str | None = None

    @property
    def topic(self) -> str:
        """The topic name again."""
        return topic(self.kind, self.branch, self.device)


def is_valid_id(value: object) -> bool:
    """True if ``value`` is a usable branch or device id (format only)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def check_branch(branch: str) -> str:
    """Return ``branch`` or raise ValueError saying what is wrong with it."""
    if not is_valid_id(branch):
        raise ValueError(f"branch id {branch!r}: must match [A-Za-z0-9_-]{{1,32}}")
    return branch


def check_device(device: str) -> str:
    """Return ``device`` or raise ValueError saying what is wrong with it."""
    if not is_valid_id(device):
        raise ValueError(f"device id {device!r}: must match [A-Za-z0-9_-]{{1,32}}")
    if device in RESERVED_DEVICE_IDS:
        raise ValueError(f"device id {device!r}: reserved (config, queue and bridge are topics)")
    return device


def topic(kind: Kind, branch: str, device: str | None = None) -> str:
    """The topic of ``kind`` for ``branch`` (and ``device`` where the kind has one)."""
    kind = Kind(kind)
    check_branch(branch)
    if kind in BRANCH_KINDS:
        if device is not None:
            raise ValueError(f"topic kind {kind.value!r} has no device, got {device!r}")
        return f"{PREFIX}/{branch}/{kind.value}"
    if device is None:
        raise ValueError(f"topic kind {kind.value!r} needs a device id")
    check_device(device)
    if kind in DEVICE_KINDS:
        return f"{PREFIX}/{branch}/{device}/{kind.value}"
    return f"{PREFIX}/{branch}/{kind.value}/{device}"


def topic_filter(kind: Kind, branch: str | None = None, device: str | None = None) -> str:
    """A subscription filter (or ACL topic) for ``kind``; a missing branch or device is ``+``."""
    kind = Kind(kind)
    b = "+" if branch is None else check_branch(branch)
    if kind in BRANCH_KINDS:
        if device is not None:
            raise ValueError(f"topic kind {kind.value!r} has no device, got {device!r}")
        return f"{PREFIX}/{b}/{kind.value}"
    d = "+" if device is None else check_device(device)
    if kind in DEVICE_KINDS:
        return f"{PREFIX}/{b}/{d}/{kind.value}"
    return f"{PREFIX}/{b}/{kind.value}/{d}"


def branch_filter(branch: str | None = None) -> str:
    """Everything under one branch (or every branch): ``cs/v1/<branch>/#``."""
    return f"{PREFIX}/{'+' if branch is None else check_branch(branch)}/#"


def parse(name: str) -> TopicInfo | None:
    """Parse a topic name; None if it is not one of ours (or holds an invalid id)."""
    parts = name.split("/")
    if len(parts) < 4 or f"{parts[0]}/{parts[1]}" != PREFIX or not is_valid_id(parts[2]):
        return None
    branch, rest = parts[2], parts[3:]
    kind: Kind | None
    device: str | None = None
    if len(rest) == 1 or (len(rest) == 2 and rest[0] == "queue"):
        kind = _BRANCH_TAILS.get("/".join(rest))
    elif len(rest) == 2:
        kind, device = _DEVICE_TAILS.get(rest[1]), rest[0]
    elif len(rest) == 3:
        kind, device = _PER_DEVICE_HEADS.get(f"{rest[0]}/{rest[1]}"), rest[2]
    else:
        kind = None
    if kind is None:
        return None
    if device is not None and (not is_valid_id(device) or device in RESERVED_DEVICE_IDS):
        return None
    return TopicInfo(kind, branch, device)


# Builders, one per kind, for readable call sites.


def events(branch: str, device: str) -> str:
    """``cs/v1/<branch>/<device>/events``: device -> centre, batches of events."""
    return topic(Kind.EVENTS, branch, device)


def status(branch: str, device: str) -> str:
    """``cs/v1/<branch>/<device>/status``: retained online/offline, the last will."""
    return topic(Kind.STATUS, branch, device)


def ack(branch: str, device: str) -> str:
    """``cs/v1/<branch>/<device>/ack``: centre -> device, highest contiguous seq stored."""
    return topic(Kind.ACK, branch, device)


def resend(branch: str, device: str) -> str:
    """``cs/v1/<branch>/<device>/resend``: centre -> device, publish a range again."""
    return topic(Kind.RESEND, branch, device)


def cmd(branch: str, device: str) -> str:
    """``cs/v1/<branch>/<device>/cmd``: centre -> device, reserved."""
    return topic(Kind.CMD, branch, device)


def config(branch: str) -> str:
    """``cs/v1/<branch>/config``: centre -> devices, retained, versioned configuration."""
    return topic(Kind.CONFIG, branch)


def config_result(branch: str, device: str) -> str:
    """``cs/v1/<branch>/config/result/<device>``: device -> centre, applied or refused."""
    return topic(Kind.CONFIG_RESULT, branch, device)


def queue_req(branch: str, device: str) -> str:
    """``cs/v1/<branch>/queue/req/<device>``: counter -> queue service."""
    return topic(Kind.QUEUE_REQ, branch, device)


def queue_resp(branch: str, device: str) -> str:
    """``cs/v1/<branch>/queue/resp/<device>``: queue service -> counter."""
    return topic(Kind.QUEUE_RESP, branch, device)


def queue_calls(branch: str) -> str:
    """``cs/v1/<branch>/queue/calls``: queue service -> boards, announcers, counters."""
    return topic(Kind.QUEUE_CALLS, branch)


def queue_state(branch: str) -> str:
    """``cs/v1/<branch>/queue/state``: retained queue snapshot by the controller."""
    return topic(Kind.QUEUE_STATE, branch)


def bridge(branch: str) -> str:
    """``cs/v1/<branch>/bridge``: Mosquitto's retained ``1``/``0`` for the branch bridge."""
    return topic(Kind.BRIDGE, branch)
