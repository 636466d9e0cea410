"""Domain events: what happened, as plain data. The store gives each one its identity and order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from device.clock import Instant


@dataclass(frozen=True)
class DomainEvent:
    """``type`` is a dotted name such as ``ticket.issued``; ``payload`` is JSON-serialisable."""

    type: str
    at: Instant
    payload: dict[str, Any] = field(default_factory=dict)
