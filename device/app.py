"""The device application core: the branch domain wired to the durable event store.

Every event a key press causes is committed to the store before :meth:`DeviceApp.press` returns,
so whatever the screen or the voice confirms has already survived a power cut. The branch's whole
state is stored with those events, in the same transaction (a checkpoint), so a restart rebuilds
exactly the state before it, whatever the wall clock did meanwhile. Listeners (the console
printer, screens, the sync uplink) are told of each stored event in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from config.model import Config
from device.branch import Branch, Key
from device.clock import Clock
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


CHECKPOINT = "branch"  # the name of this app's state among the store's checkpoints


def restore_branch(
    config: Config, store: EventStore, queue: QueuePort | None = None
) -> tuple[Branch, dict]:
    """The branch as the store last knew it, and how it was rebuilt.

    From the last checkpoint, plus any events stored after it by other writers; a store from
    before checkpoints existed is replayed whole, by sequence number, never by wall-clock time.
    The last stored event tells how far the previous run got (for durations across a power
    cut). With a remote ``queue`` only the sessions are rebuilt here: the service keeps the
    queue.
    """
    checkpoint = store.checkpoint(CHECKPOINT)
    if checkpoint is None:
        branch, after = Branch(config, queue=queue), 0
    else:
        branch, after = Branch.from_state(config, checkpoint.state, queue=queue), checkpoint.seq
    replayed = branch.replay(store.events(after_seq=after))
    last = store.last_event()
    if last is not None:
        branch.boot_ends.note(last.at)
    return branch, {"checkpoint_seq": None if checkpoint is None else after, "replayed": replayed}


class DeviceApp:
    """One Pi's branch logic (all counters it runs) with its store and clock.

    On start it rebuilds the queue and the counter sessions exactly as they were
    (:func:`restore_branch`), so a power cut loses nothing stored and ticket numbering carries
    on; it then records ``device.started``.
    """

    def __init__(
        self, config: Config, store: EventStore, clock: Clock, queue: QueuePort | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._listeners: list[Listener] = []
        store.claim(CHECKPOINT)  # one process keeps this store's branch, or it goes wrong
        now = clock.now()
        self.branch, how = restore_branch(config, store, queue)
        self._saved_quiet = self.branch.quiet_changes
        payload = {"boot_id": now.boot, **how, "version": __version__}
        self._commit([DomainEvent("device.started", now, payload)])

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def commit(self, events: list[DomainEvent]) -> list[StoredEvent]:
        """Store events produced outside a key press (e.g. a ticket cancelled at the kiosk)."""
        return self._commit(events)

    def _commit(self, events: list[DomainEvent]) -> list[StoredEvent]:
        """Store ``events`` with the state they lead to, then tell the listeners."""
        stored = self.store.append_many(events, checkpoint=(CHECKPOINT, self.branch.to_state()))
        self._saved_quiet = self.branch.quiet_changes
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
        events = self.branch.tick(self.clock.now())
        if not events and self.branch.quiet_changes == self._saved_quiet:
            return []  # nothing happened, nothing to save
        return self._commit(events)
