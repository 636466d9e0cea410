"""Domain events: what happened, as plain data. The store gives each one its identity and order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.clock import Instant

HEARTBEAT_TYPE = "device.heartbeat"  # one a wall-clock minute the device is on (开机率)


@dataclass(frozen=True)
class DomainEvent:
    """``type`` is a dotted name such as ``ticket.issued``; ``payload`` is JSON-serialisable."""

    type: str
    at: Instant
    payload: dict[str, Any] = field(default_factory=dict)


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
    payload: dict

    @property
    def at(self) -> Instant:
        return Instant(self.mono, self.wall, self.boot_id)

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
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: dict) -> StoredEvent:
        return cls(
            seq=int(data["seq"]),
            id=str(data["id"]),
            device_id=str(data["device_id"]),
            boot_id=str(data["boot_id"]),
            mono=float(data["mono"]),
            wall=datetime.fromisoformat(data["wall"]),
            type=str(data["type"]),
            payload=dict(data["payload"]),
        )
