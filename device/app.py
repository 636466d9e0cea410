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
from device.store import Checkpoint, EventStore, StoreError
from domain import events as ev
from domain.branch import Branch, Key
from domain.clock import Clock
from domain.events import DomainEvent, StoredEvent, event
from domain.queue import QueuePort
from domain.tickets import Ticket

log = logging.getLogger(__name__)
try:
    __version__ = version("counterside")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
Listener = Callable[[StoredEvent], object]  # what a listener returns is ignored


CHECKPOINT = "branch"  # the name of this app's state among the store's checkpoints
CHECKPOINT_VERSION = 1  # of the state's shape: another version is not read, the store is replayed


def restore_branch(
    config: Config, store: EventStore, boot: str, queue: QueuePort | None = None
) -> tuple[Branch, dict]:
    """The branch as the store last knew it, and how it was rebuilt.

    From the last checkpoint, plus any events stored after it by other writers. A store from
    before checkpoints, or a checkpoint this version cannot read, is replayed whole, by sequence
    number, never by wall-clock time. The last event stored in another boot than ``boot`` (the
    current one) tells how far the previous boot got (for durations across a power cut). With a
    remote ``queue`` only the sessions are rebuilt here: the service keeps the queue.
    """
    branch, after = None, 0
    checkpoint = store.checkpoint(CHECKPOINT)
    if checkpoint is not None and checkpoint.state.get("version") == CHECKPOINT_VERSION:
        try:
            branch = Branch.from_state(
                config, checkpoint.state, queue=queue, tickets=checkpoint.items
            )
            after = checkpoint.seq
        except (KeyError, TypeError, ValueError):
            log.exception("%s: the branch's checkpoint cannot be read: replaying", store.path)
    elif checkpoint is not None:
        log.warning("%s: a checkpoint of another version: replaying the store", store.path)
    if branch is None:
        branch, after = Branch(config, queue=queue), 0
    replayed = branch.replay(store.events(after_seq=after))
    last = store.last_event(other_than_boot=boot)
    if last is not None:
        branch.boot_ends.note(last.at)
    how = {"checkpoint_seq": after if after else None, "replayed": replayed}
    return branch, how


class DeviceApp:
    """One Pi's branch logic (all counters it runs) with its store and clock.

    On start it rebuilds the queue and the counter sessions exactly as they were
    (:func:`restore_branch`), so a power cut loses nothing stored and ticket numbering carries
    on; it then records ``device.started``. If a commit fails (a full or locked disk), the
    branch goes back to what the store holds, so memory never runs ahead of the record.
    """

    def __init__(
        self, config: Config, store: EventStore, clock: Clock, queue: QueuePort | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.queue = queue
        self._listeners: list[Listener] = []
        store.claim(CHECKPOINT)  # one process keeps this store's branch, or it goes wrong
        now = clock.now()
        self.branch, how = restore_branch(config, store, now.boot, queue)
        self._saved_quiet = self.branch.quiet_changes
        started = ev.DeviceStarted(boot_id=now.boot, version=__version__, **how)
        self._commit([event(now, started)])

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def commit(self, events: list[DomainEvent]) -> list[StoredEvent]:
        """Store events produced outside a key press (e.g. a ticket cancelled at the kiosk)."""
        return self._commit(events)

    def _commit(self, events: list[DomainEvent]) -> list[StoredEvent]:
        """Store ``events`` with the state they lead to, then tell the listeners."""
        state, tickets, gone = self.branch.checkpoint()
        checkpoint = Checkpoint(CHECKPOINT, {**state, "version": CHECKPOINT_VERSION}, tickets, gone)
        try:
            stored = self.store.append_many(events, checkpoint=checkpoint)
        except StoreError:
            log.exception(
                "%s: events not stored: the branch goes back to the store", self.store.path
            )
            self.branch, _ = restore_branch(
                self.config, self.store, self.clock.now().boot, self.queue
            )
            self._saved_quiet = self.branch.quiet_changes
            raise
        self._saved_quiet = self.branch.quiet_changes
        for done in stored:
            for listener in self._listeners:
                try:
                    listener(done)
                except Exception:  # a faulty screen or printer must not stop the counter
                    log.exception("listener %r failed on event #%d", listener, done.seq)
        return stored

    def issue(self, business_type: str, priority: str | None = None) -> tuple[Ticket, list]:
        ticket, events = self.branch.issue(business_type, self.clock.now(), priority)
        return ticket, self._commit(events)

    def press(self, counter: int, key: Key | str, arg=None) -> list[StoredEvent]:
        return self._commit(self.branch.press(counter, key, self.clock.now(), arg))

    def record(self, type_: str, payload: dict | ev.Payload) -> list[StoredEvent]:
        """Store a fact from a driver (a ticket printed, a print failure) at the current time;
        a driver's plain values become the typed payload of ``type_``."""
        return self._commit(
            [DomainEvent(type_, self.clock.now(), ev.typed_payload(type_, payload))]
        )

    def tick(self) -> list[StoredEvent]:
        events = self.branch.tick(self.clock.now())
        if not events and self.branch.quiet_changes == self._saved_quiet:
            return []  # nothing happened, nothing to save
        return self._commit(events)
