"""The device application core: the branch domain wired to the durable event store.

Every event a key press causes is committed to the store before :meth:`DeviceApp.press` returns,
so whatever the screen or the voice confirms has already survived a power cut. Listeners (the
console printer, screens, the sync uplink) are told of each stored event in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from importlib.metadata import PackageNotFoundError, version
from zoneinfo import ZoneInfo

from config.model import Config
from device.branch import Branch, Key
from device.clock import Clock, Instant
from device.events import DomainEvent
from device.queue import QueuePort
from device.store import EventStore, StoredEvent
from device.tickets import Ticket

log = logging.getLogger(__name__)
try:
    __version__ = version("counterside")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
Listener = Callable[[StoredEvent], None]


REPLAY_DAYS = 2  # state older than yesterday's start is not rebuilt after a restart


class DeviceApp:
    """One Pi's branch logic (all counters it runs) with its store and clock.

    On start it rebuilds the queue and the counter sessions from the store's events since the
    start of yesterday (a teller signed in earlier is known by staff number), so a power cut
    loses no stored event and ticket numbering carries on; it then records ``device.started``.
    With a remote ``queue`` (the controller's queue service over MQTT) only the sessions are
    rebuilt here: the service keeps the queue.
    """

    def __init__(
        self, config: Config, store: EventStore, clock: Clock, queue: QueuePort | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._listeners: list[Listener] = []
        now = clock.now()
        recent = store.events_between(self._replay_from(now), datetime.max.replace(tzinfo=UTC))
        self.branch = Branch.restored(config, recent, queue=queue)
        payload = {"boot_id": now.boot, "replayed": len(recent), "version": __version__}
        self._commit([DomainEvent("device.started", now, payload)])

    def _replay_from(self, now: Instant) -> datetime:
        tz = ZoneInfo(self.config.device.timezone)
        today = now.wall.astimezone(tz).date()
        start = datetime.combine(today - timedelta(days=REPLAY_DAYS - 1), time(0), tz)
        return start

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def commit(self, events: list[DomainEvent]) -> list[StoredEvent]:
        """Store events produced outside a key press (e.g. a ticket cancelled at the kiosk)."""
        return self._commit(events)

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

    def record(self, type_: str, payload: dict) -> list[StoredEvent]:
        """Store a fact from a driver (a ticket printed, a print failure) at the current time."""
        return self._commit([DomainEvent(type_, self.clock.now(), payload)])

    def tick(self) -> list[StoredEvent]:
        return self._commit(self.branch.tick(self.clock.now()))
