"""The device uplink: drains the event store's outbox to the centre, in order, in batches.

Protocol state (all guarded by one condition; callbacks from the paho thread only record what
happened, the pump thread acts on it and is the only one that touches the store):

- ``acked``: the centre's end-to-end acknowledgement as applied to the store. Events are released
  (``store.ack``) only when the centre says so on ``.../ack`` — never on a broker PUBACK — and only
  by an ack naming this store (``EventStore.store_id``): the retained ack of an earlier store of
  the same device id (before a re-image) counts the events of *that* store and is ignored here.
  Batches and resend requests name the store likewise.
- ``next_seq``: next event to publish in order. Reset to ``acked + 1`` on every (re)connect, so
  whatever the last connection lost is published again (the centre drops the duplicates).
- ``inflight``: batches published and not yet PUBACKed; at most ``max_inflight``.
- window: at most ``max_unacked_events`` published beyond ``acked``; then the pump waits.
- ack timeout: events published, no progress of ``acked`` for ``ack_timeout`` -> publish again
  from ``acked + 1`` (the broker may have dropped them for an absent centre); the timeout doubles
  while nothing moves.
- ``resend``: a range the centre asked for on ``.../resend``; served before new events.
- refusal: a PUBACK with reason code >= 0x80 means the broker did not take the batch; it is not
  counted as sent, publishing rewinds to it and holds for a jittered, growing backoff.

The pump reads through its own :class:`Outbox` (the device's event store, opened by the pump in
its thread with ``open_outbox``: one connection per thread); other threads or processes append
to the same file and call :meth:`Uplink.notify` (or the pump polls every ``poll_s``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import msgspec

from domain.events import EventType, StoredEvent, SyncOversized
from sync import schema, topics
from sync.connection import LinkState, Message, MqttConnection, PublishResult
from sync.settings import UplinkSettings

log = logging.getLogger(__name__)


class Outbox(Protocol):
    """What the uplink needs of the device's event store (``device.store.EventStore``)."""

    path: Path

    @property
    def store_id(self) -> str: ...
    def acked_seq(self) -> int: ...
    def pruned_seq(self) -> int: ...
    def event_id(self, seq: int) -> str | None: ...
    def last_seq(self) -> int: ...
    def events(self, after_seq: int = 0, limit: int | None = None) -> list[StoredEvent]: ...
    def ack(self, upto_seq: int) -> int: ...
    def close(self) -> None: ...


OVERSIZED_TYPE = EventType.SYNC_OVERSIZED
"""Sent in place of an event too large for any message, so the centre's sequence stays whole."""


@dataclass
class UplinkStats:
    """Counters since start; ``events_sent`` counts only batches the broker accepted."""

    batches_sent: int = 0
    events_sent: int = 0
    batches_refused: int = 0
    acks_received: int = 0
    acked_seq: int = 0
    resend_requests: int = 0
    resent_events: int = 0
    ack_timeouts: int = 0
    sessions: int = 0
    rejected_messages: int = 0
    foreign_acks: int = 0  # acks and resend requests for another store of this device id
    acks_refused: int = 0  # acks beyond the store's end, or of an event this store does not hold


@dataclass
class _Batch:
    token: int
    first: int
    last: int
    session: int
    resend: bool
    size: int = field(default=0)

    @property
    def count(self) -> int:
        return self.last - self.first + 1


class Uplink:
    """Publish one device's outbox over a shared :class:`MqttConnection`."""

    def __init__(
        self,
        connection: MqttConnection,
        open_outbox: Callable[[], Outbox],
        branch: str,
        device: str,
        settings: UplinkSettings | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.connection = connection
        self.open_outbox = open_outbox
        self.store_path: Path | str = "the store"  # named once the pump opened it
        self.branch = branch
        self.device = device
        self.settings = settings or UplinkSettings()
        self.events_topic = topics.events(branch, device)
        self.ack_topic = topics.ack(branch, device)
        self.resend_topic = topics.resend(branch, device)
        self.stats = UplinkStats()
        self._rng = rng or random.Random()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._dirty = False  # something happened since the pump's step began
        self._opened = threading.Event()
        self._failure: BaseException | None = None
        # protocol state, under self._cond
        self._connected = False
        self._session = 0
        self._gen = 0
        self._acked = 0
        self._ack_wanted = 0
        self._ack_id = ""  # the id of the centre's event at _ack_wanted, if it named one
        self._next_seq = 1
        self._resend: tuple[int, int] | None = None
        self._inflight: dict[int, _Batch] = {}
        self._tokens = 0
        self._refused = self.settings.refused.retry(self._rng)
        self._hold_until = 0.0
        self._progress_at = time.monotonic()
        self._ack_timeouts = self.settings.ack_timeouts.retry()
        self._ack_timeout = self._ack_timeouts.next_delay()
        self._ack_refused_logged = 0
        self._store_id = ""  # set by the pump when it opens the store, before any subscription

    # --- lifetime ------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Open the store in the pump thread, subscribe ack and resend, start pumping."""
        self._thread = threading.Thread(target=self._run, name=f"uplink-{self.device}")
        self._thread.daemon = True
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"{self.store_path}: the uplink could not open the store")
        if self._failure is not None:
            raise self._failure
        self.connection.add_state_listener(self._on_state)
        self.connection.subscribe(self.ack_topic, self._on_ack)
        self.connection.subscribe(self.resend_topic, self._on_resend)
        if self.connection.connected:
            self._on_state(LinkState.CONNECTED)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pumping (the connection stays up: it is shared)."""
        with self._cond:
            self._stopping = True
            self._kick()
        self.connection.unsubscribe(self.ack_topic)
        self.connection.unsubscribe(self.resend_topic)
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self) -> None:
        """New events may be in the store (e.g. a ``DeviceApp`` listener): wake the pump."""
        with self._cond:
            self._kick()

    @property
    def acked_seq(self) -> int:
        return self._acked

    def wait_acked(self, seq: int, timeout: float) -> bool:
        """Block until the centre acknowledged ``seq`` (applied to the store) or time runs out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._acked < seq:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    return False
                self._cond.wait(left)
            return True

    # --- network callbacks (paho thread): record, notify, never touch the store --------------

    def _on_state(self, state: LinkState) -> None:
        with self._cond:
            if self._stopping:
                return
            self._gen += 1
            self._connected = state is LinkState.CONNECTED
            if self._connected:
                self._session += 1
                self.stats.sessions += 1
                self._next_seq = self._acked + 1  # resend whatever the last session lost
                self._inflight.clear()
                self._resend = None
                self._progress_at = time.monotonic()
                self._restart_ack_timeout()
            self._kick()

    def _restart_ack_timeout(self) -> None:
        """The acknowledgement moved (or a new session began): back to the first timeout."""
        self._ack_timeouts.reset()
        self._ack_timeout = self._ack_timeouts.next_delay()

    def _foreign(self, kind: str, store: str) -> bool:
        """True (and logged) if a message from the centre concerns another store of this id."""
        if store == self._store_id:
            return False
        self.stats.foreign_acks += 1
        log.warning(
            "%s: ignoring %s for store %r: this store is %r (an earlier store of this device id?)",
            self.device,
            kind,
            store,
            self._store_id,
        )
        return True

    def _on_ack(self, message: Message) -> None:
        try:
            ack = schema.parse_ack(message.payload, self.device)
        except schema.SchemaError as exc:
            self.stats.rejected_messages += 1
            log.warning("%s: ignoring ack on %s: %s", self.device, message.topic, exc.reason)
            return
        if self._foreign("an acknowledgement", ack.store):
            return
        with self._cond:
            self.stats.acks_received += 1
            if ack.upto > self._ack_wanted:
                self._ack_wanted = ack.upto
                self._ack_id = "" if isinstance(ack.id, msgspec.UnsetType) else ack.id
                self._kick()

    def _on_resend(self, message: Message) -> None:
        try:
            request = schema.parse_resend(message.payload, self.device)
        except schema.SchemaError as exc:
            self.stats.rejected_messages += 1
            log.warning("%s: ignoring resend on %s: %s", self.device, message.topic, exc.reason)
            return
        if self._foreign("a resend request", request.store):
            return
        with self._cond:
            self.stats.resend_requests += 1
            # Acknowledged seqs too: a centre restored from an older backup asks for what it
            # acknowledged before, and the store still holds it (until pruned).
            first = max(request.first, 1)
            last = min(
                request.last, self._next_seq - 1, first + self.settings.max_unacked_events - 1
            )
            if first > last:
                return  # not published yet (it will come in order)
            cap = self.settings.max_unacked_events
            self._resend = pending_range(self._resend, (first, last), cap)
            log.info("%s: centre asks for seqs %d..%d again", self.device, first, last)
            self._kick()

    def _on_published(self, batch: _Batch, result: PublishResult) -> None:
        with self._cond:
            current = self._inflight.pop(batch.token, None) is not None
            if result.ok:
                self._refused.reset()
                self.stats.batches_sent += 1
                self.stats.events_sent += batch.count
                self._kick()
                return
            self.stats.batches_refused += 1
            delay = self._refused.next_delay()
            self._hold_until = max(self._hold_until, time.monotonic() + delay)
            if current and batch.session == self._session:
                self._gen += 1
                if batch.resend:
                    first, last = batch.first, batch.last
                    if self._resend is not None:
                        first, last = min(first, self._resend[0]), max(last, self._resend[1])
                    self._resend = (first, last)
                else:
                    self._next_seq = min(self._next_seq, batch.first)
            self._kick()
        log.warning(
            "%s: broker refused batch %d..%d (%s, reason code 0x%02x); retrying in %.1f s",
            self.device,
            batch.first,
            batch.last,
            result.reason,
            result.code,
            delay,
        )

    # --- the pump (own thread, own store) ------------------------------------------------------

    def _run(self) -> None:
        try:
            store = self.open_outbox()
            self.store_path = store.path
        except BaseException as exc:
            self._failure = exc
            self._opened.set()
            return
        try:
            self._store_id = store.store_id
            with self._cond:
                self._acked = self._ack_wanted = store.acked_seq()
                self.stats.acked_seq = self._acked
                self._next_seq = self._acked + 1
            self._opened.set()
            while not self._stopping:
                try:
                    self._step(store)
                except Exception:
                    log.exception("%s: uplink step failed; retrying", self.device)
                    with self._cond:
                        self._cond.wait(self.settings.poll_s)
        finally:
            store.close()

    def _kick(self) -> None:
        """Something changed: wake the pump and any waiter (call with the condition held)."""
        self._dirty = True
        self._cond.notify_all()

    def _sleep(self, seconds: float) -> None:
        """Pump waits, unless something changed since its step began (condition held)."""
        if not self._dirty and not self._stopping:
            self._cond.wait(seconds)

    def _step(self, store: Outbox) -> None:
        with self._cond:
            self._dirty = False
        self._apply_ack(store)
        with self._cond:
            wait = self._plan()
            if wait is not None:
                self._sleep(wait)
                return
            gen, session = self._gen, self._session
            if self._resend is not None:
                (first, end), resend = self._resend, True
            else:
                first, resend = self._next_seq, False
                end = self._acked + self.settings.max_unacked_events
        pruned = store.pruned_seq()  # read first: any event read after it lies above it
        first = max(first, pruned + 1)  # a resend of deleted seqs: what is left of it
        limit = min(end - first + 1, self.settings.batch_max_events)
        events = store.events(after_seq=first - 1, limit=limit) if limit > 0 else []
        events = [e for e in events if e.seq <= end]  # (deleted meanwhile: it started later)
        if not events:
            with self._cond:
                if gen == self._gen and resend:
                    # nothing there (deleted, or never written): the next batch says `pruned`
                    self._resend = None
                elif gen == self._gen:
                    self._sleep(self.settings.poll_s)
            return
        first = events[0].seq
        payload, last = self._encode(events, pruned)
        with self._cond:
            if gen != self._gen or self._stopping:
                return  # the state moved while we read: plan again
            self._tokens += 1
            batch = _Batch(self._tokens, first, last, session, resend, len(payload))
            self._inflight[batch.token] = batch
            if resend:
                self.stats.resent_events += batch.count
                end = self._resend[1] if self._resend else last
                self._resend = (last + 1, end) if last < end else None
            else:
                if self._next_seq - 1 <= self._acked:
                    self._progress_at = time.monotonic()  # the ack timer starts now
                self._next_seq = last + 1
        mid = self.connection.publish(
            self.events_topic, payload, qos=1, on_done=lambda r: self._on_published(batch, r)
        )
        if mid is None:
            self._on_published(batch, PublishResult(0, 0x80, "not queued by the client"))

    def _plan(self) -> float | None:
        """None if a batch may go now, else how long to wait (called under the condition)."""
        if not self._connected:
            return self.settings.poll_s
        now = time.monotonic()
        if now < self._hold_until:
            return self._hold_until - now
        if len(self._inflight) >= self.settings.max_inflight:
            return self.settings.poll_s
        outstanding = self._next_seq - 1 > self._acked
        if outstanding and now - self._progress_at >= self._ack_timeout:
            self.stats.ack_timeouts += 1
            log.info(
                "%s: no acknowledgement beyond seq %d for %.1f s; publishing again from there",
                self.device,
                self._acked,
                self._ack_timeout,
            )
            self._gen += 1
            self._next_seq = self._acked + 1
            self._progress_at = now
            self._ack_timeout = self._ack_timeouts.next_delay()
            return None
        if self._resend is not None:
            return None
        if self._next_seq - 1 - self._acked >= self.settings.max_unacked_events:
            return max(0.01, min(self.settings.poll_s, self._progress_at + self._ack_timeout - now))
        return None

    def _apply_ack(self, store: Outbox) -> None:
        with self._cond:
            wanted, acked, named = self._ack_wanted, self._acked, self._ack_id
        if wanted <= acked:
            return
        last = store.last_seq()
        held = store.event_id(wanted) if named and wanted <= last else None
        if wanted > last or (held is not None and held != named):
            with self._cond:
                self.stats.acks_refused += 1
                if self._ack_wanted == wanted:  # (a later ack that came meanwhile stays)
                    self._ack_wanted, self._ack_id = self._acked, ""
            if self._ack_refused_logged != wanted:
                self._ack_refused_logged = wanted
                why = (
                    f"{self.store_path} ends at seq {last}"
                    if wanted > last
                    else f"its event there is {named}, {self.store_path} holds {held}"
                )
                log.error(
                    "%s: the centre acknowledges up to seq %d of this store but %s: was the "
                    "store restored from an older copy? Not acknowledging; the centre will "
                    "report conflicts",
                    self.device,
                    wanted,
                    why,
                )
            return
        store.ack(wanted)
        with self._cond:
            self._acked = max(self._acked, wanted)
            self.stats.acked_seq = self._acked
            self._next_seq = max(self._next_seq, self._acked + 1)
            if self._resend is not None and self._resend[0] <= self._acked:
                first, last = self._acked + 1, self._resend[1]
                self._resend = (first, last) if first <= last else None
            self._progress_at = time.monotonic()
            self._restart_ack_timeout()
            self._kick()

    def _encode(self, events: list[StoredEvent], pruned: int) -> tuple[bytes, int]:
        """The largest prefix of ``events`` that fits one message; (payload, last seq). The
        message says the store no longer holds seqs 1..``pruned`` (the centre files what it
        lacks of them as lost instead of asking for them forever)."""
        envelope = schema.batch_envelope_size(self.device, self._store_id, pruned)
        budget = self.settings.batch_max_bytes - envelope
        hard = schema.MAX_MESSAGE_BYTES - envelope
        parts: list[bytes] = []
        used = 0
        for event in events:
            part = schema.encode_event(event)
            if not parts and len(part) > hard:
                log.error(
                    "%s: event seq %d (%s) is %d bytes, more than a message may hold; "
                    "sending a %s placeholder (the event stays in the device store)",
                    self.device,
                    event.seq,
                    event.type,
                    len(part),
                    OVERSIZED_TYPE,
                )
                part = schema.encode_event(_oversized(event, len(part)))
            extra = len(part) + (1 if parts else 0)
            if parts and used + extra > budget:
                break
            parts.append(part)
            used += extra
        payload = schema.encode_batch(self.device, parts, store=self._store_id, pruned=pruned)
        return payload, events[len(parts) - 1].seq


def pending_range(
    pending: tuple[int, int] | None, asked: tuple[int, int], cap: int
) -> tuple[int, int]:
    """The one range of seqs a device resends next: ``asked``, or with the ``pending`` one
    when the two overlap or touch (their union, at most ``cap`` seqs from its start). Of two
    disjoint ranges the lower is kept: the centre asks for the range just above its mark, and
    again while that stays open, so a request left out now comes again if it still matters."""
    if pending is None:
        return asked
    (a, b), (c, d) = pending, asked
    if c > b + 1 or a > d + 1:
        return pending if a <= c else asked
    first = min(a, c)
    return first, min(max(b, d), first + cap - 1)


def _oversized(event: StoredEvent, size: int) -> StoredEvent:
    return StoredEvent(
        event.seq,
        event.id,
        event.device_id,
        event.boot_id,
        event.mono,
        event.wall,
        OVERSIZED_TYPE,
        SyncOversized(type=event.type, bytes=size),
    )
