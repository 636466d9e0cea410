"""The device application core: the branch domain wired to the durable event store.

Every event a key press causes is committed to the store before :meth:`DeviceApp.press` returns,
so whatever the screen or the voice confirms has already survived a power cut. Listeners (the
console printer, screens, the sync uplink) are told of each stored event in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from config.model import Config
from device.branch import Branch, Key
from device.clock import Clock
from device.events import DomainEvent
from device.store import EventStore, StoredEvent
from device.tickets import Ticket

log = logging.getLogger(__name__)
Listener = Callable[[StoredEvent], None]


class DeviceApp:
    """One Pi's branch logic (all counters it runs) with its store and clock."""

    def __init__(self, config: Config, store: EventStore, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.branch = Branch(config)
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _commit(self, events: list[DomainEvent]) -> list[StoredEvent]:
        stored = self.store.append_many(events) if events else []
        for event in stored:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:  # a faulty screen or printer must not stop the counter
                    log.exception("listener %r failed on event #%d", listener, event.seq)
        return stored

    def issue(self, business_type: str, priority: str | None = None) -> tuple[Ticket, list]:
        ticket, events = self.branch.issue(business_type, self.clock.now(), priority)
        return ticket, self._commit(events)

    def press(self, counter: int, key: Key | str, arg=None) -> list[StoredEvent]:
        return self._commit(self.branch.press(counter, key, self.clock.now(), arg))

    def tick(self) -> list[StoredEvent]:
        return self._commit(self.branch.tick(self.clock.now()))
