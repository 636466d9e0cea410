"""The centre's MQTT consumer: stores device batches, acknowledges them end to end, asks for gaps.

Threads, and what each may touch:

- the paho network thread only hands each message on (``_take``: into the inbox, in order). It
  never waits for the database, so a locked database cannot stall keepalives and drop the ingest
  from the broker;
- the store thread (``ingest-store``) owns the :class:`CentralStore` and handles the inbox in
  order. Per message on ``cs/v1/+/+/events`` (QoS 1, persistent session):

  1. parse it (``sync.schema``); what does not parse is quarantined with its reason; a retained
     copy (devices never retain events) is refused: quarantined once and cleared from the broker;
  2. store it in one transaction (``CentralStore.ingest``: deduplicated by (device, store, seq),
     conflicts quarantined and alerted, invalid events put aside) and commit;
  3. publish the store's highest contiguous seq to ``cs/v1/<branch>/<device>/ack`` (retained,
     QoS 1, naming the store), so the device may release its events: only now, after the commit;
  4. only then PUBACK the message to the broker (paho manual acks). Until then the broker keeps
     it and, should this process stop or lose its connection, delivers it again: a batch the
     broker was told is safe has been committed. A database error (locked past the busy
     timeout, disk full, the connection to PostgreSQL lost: the next try connects again)
     retries the same message every ``retry_s``, acknowledging nothing. A message the database
     refuses for its data (a constraint, a value it cannot hold) is tried ``refused_tries``
     times, then its events are stored one by one and the refused one put aside (a placeholder
     filed, the event quarantined with the database's reason), so one message cannot stop every
     other and the device's mark moves past it.

  The messages waiting are taken together (group commit, up to ``group_max_messages``): each
  is parsed and prepared (``prepare``: what filing needs that depends on no database) before
  the write lock is taken, then all are filed in one transaction, committed, acknowledged (one
  ack per store) and PUBACKed. The broker may deliver ``receive_maximum`` messages before any
  is PUBACKed (MQTT v5 Receive Maximum), which bounds a group.

  It also asks for gaps (``resend``, one request per gap, again every ``resend_interval_s``
  while open: ``central.gaps``) and records each device's retained ``status`` (a malformed one is
  quarantined, once).

Several workers: subscribe ``$share/<group>/cs/v1/+/+/events`` (``IngestSettings.share_group``);
the broker hands each message to one of them. Ingest is idempotent and the contiguous mark is
recomputed inside the write transaction and only grows, so any worker may take any batch; an ack
published out of order by a slower worker is lower than one the device already applied, and the
device ignores it.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from central.database import caused_by_data, database_state_error, shown
from central.gaps import GapTracker, ResendAsk
from central.store import CentralStore, CentralStoreError, IngestResult, Prepared
from config.centre import CentreConfig
from domain.clock import wall_now_from
from sync import schema, topics
from sync.connection import Message, MqttConnection, PublishResult
from sync.settings import ConnectionSettings, IngestSettings

log = logging.getLogger(__name__)

Alert = Callable[[str], None]
RETAINED_EVENTS = (
    "retained message on an events topic (devices never retain events): refused, and cleared "
    "from the broker"
)


@dataclass
class IngestStats:
    messages: int = 0
    batches: int = 0
    events_stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    invalid: int = 0
    lost: int = 0  # placeholders for seqs the devices deleted before this centre held them
    chain_breaks: int = 0
    quarantined: int = 0
    acks_sent: int = 0
    resend_requests: int = 0
    groups: int = 0  # group commits of several messages
    status_updates: int = 0
    retained_refused: int = 0
    alert_states: int = 0  # alert states published (retained, per branch)
    errors: int = 0  # database errors: the message was retried, not acknowledged meanwhile


class CentralIngest:
    """One ingest worker: a persistent MQTT session and the central store."""

    def __init__(
        self,
        store_path: str | Path,
        connection: ConnectionSettings,
        settings: IngestSettings | None = None,
        *,
        on_alert: Alert | None = None,
        centre: CentreConfig | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        self.store_path = store_path  # an SQLite file or a postgresql:// URL
        self.centre = centre
        self.settings = settings or IngestSettings()
        if connection.session_expiry_s == 0 and connection.clean_start:
            connection = replace(connection, clean_start=False, session_expiry_s=7 * 24 * 3600)
        if connection.receive_maximum is None:
            connection = replace(connection, receive_maximum=self.settings.receive_maximum)
        self.connection = MqttConnection(connection, manual_ack=True)
        self.stats = IngestStats()
        self.on_alert = on_alert
        self.now: Callable[[], datetime] = wall_now_from(os.environ)
        """The centre's time (received, alerts): the machine's, or a simulation's
        (``$COUNTERSIDE_CLOCK``, so a demo's accelerated events are not from the future)."""
        self.on_progress = on_progress or (lambda: None)
        """Called by the store thread each time round (at least every second) and while it
        retries: a watchdog pinged from here stops when the thread is stuck."""
        self.gaps = GapTracker(self.settings.resend_interval_s, self.settings.resend_max_events)
        self._inbox: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._old: set[tuple[str, str]] = set()  # replaced stores that sent new events
        self._alerts_published: dict[str, tuple[int, tuple[int, ...]]] = {}
        self._next_evaluation = 0.0
        self._next_targets = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opened = threading.Event()
        self._failure: BaseException | None = None

    def _filter(self, kind: topics.Kind) -> str:
        base = topics.topic_filter(kind)
        group = self.settings.share_group
        return f"$share/{group}/{base}" if group else base

    def start(self, timeout: float | None = 60.0) -> None:
        """Open the store in the store thread, then subscribe and connect (in the background).
        ``timeout``: how long opening (and migrating) the store may take; None: as long as it
        needs (under systemd, whose ``TimeoutStartSec=`` then decides)."""
        self._thread = threading.Thread(target=self._run, name="ingest-store", daemon=True)
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"{shown(self.store_path)}: the ingest could not open the store")
        if self._failure is not None:
            raise self._failure
        self.connection.subscribe(self._filter(topics.Kind.EVENTS), self._take)
        self.connection.subscribe(topics.topic_filter(topics.Kind.STATUS), self._take)
        self.connection.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop storing, then disconnect. What was not stored was not acknowledged: the broker
        keeps it in the session and delivers it at the next start."""
        self._stop.set()
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        self.connection.stop(timeout)

    def wait_connected(self, timeout: float) -> bool:
        return self.connection.wait_connected(timeout)

    # --- paho thread: hand on, nothing else ----------------------------------------------------

    def _take(self, message: Message) -> None:
        self._inbox.put(message)

    # --- store thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = CentralStore(
                self.store_path, busy_timeout_s=self.settings.busy_timeout_s, centre=self.centre
            )
        except BaseException as exc:
            self._failure = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while not self._stop.is_set():
                self.on_progress()
                try:
                    self._step(store)
                except Exception:  # this thread must not end while the process runs on
                    log.exception("ingest step failed; going on")
        finally:
            store.close()

    def _step(self, store: CentralStore) -> None:
        """The messages waiting (the first within a second), stored in one transaction (group
        commit) and only then acknowledged; then the gaps due."""
        try:
            first = self._inbox.get(timeout=min(1.0, self.settings.resend_interval_s))
        except queue.Empty:
            first = None
        messages = [first] if first is not None else []
        while first is not None and len(messages) < self.settings.group_max_messages:
            try:
                more = self._inbox.get_nowait()
            except queue.Empty:
                break
            if more is None:
                break
            messages.append(more)
        grouped = False
        while len(messages) > 1:
            outcome = self._store_group(store, messages)
            if outcome is not None:
                grouped = outcome
                break
            # the database's state (a lock, an outage), not the messages: the group again, later
            self.on_progress()
            if self._stop.wait(self.settings.retry_s):
                return  # nothing acknowledged: the broker delivers them again
        self.on_progress()
        if grouped:
            for message in messages:
                self.connection.ack(message)
        else:
            for message in messages:
                if self._store_safely(store, message):
                    self.connection.ack(message)
        if self.connection.connected:
            for ask in self.gaps.due():
                self._ask(ask)
            if time.monotonic() >= self._next_evaluation:
                self._next_evaluation = time.monotonic() + self.settings.alerts_every_s
                self._evaluate_alerts(store)

    def _evaluate_alerts(self, store: CentralStore) -> None:
        """Alerts that depend on time passing, then every branch whose open alerts changed
        (new ones, or acknowledged elsewhere) is published again."""
        targets = time.monotonic() >= self._next_targets
        try:
            store.evaluate_alerts(self.now(), targets=targets)
            if targets:  # only once done: a failed evaluation is tried again next minute
                self._next_targets = time.monotonic() + self.settings.targets_every_s
            for branch in store.alert_branches():
                self._publish_alerts(store, branch)
        except CentralStoreError:
            log.exception("evaluating the alerts failed; next time")

    def _publish_alerts(self, store: CentralStore, branch: str) -> None:
        """The branch's open alerts, retained, when they differ from what was published."""
        state = store.alert_state(branch, self.now())
        shown = (state.open, tuple(a.id for a in state.alerts))
        if self._alerts_published.get(branch) == shown:
            return
        self.connection.publish(
            topics.topic(topics.Kind.ALERTS, branch), schema.encode_alerts(state), qos=1,
            retain=True,
        )  # fmt: skip
        self._alerts_published[branch] = shown
        self.stats.alert_states += 1

    def _store_group(self, store: CentralStore, messages: list[Message]) -> bool | None:
        """Store ``messages`` in one transaction; what they publish (acks, resend requests,
        alert states) goes out after the commit. Their batches are filed together
        (``CentralStore.ingest_many``) and each store is acknowledged once, with its highest
        mark. False if the transaction failed on the messages (nothing of it was kept, and the
        caller stores them one by one to find which); None if it failed on the database's state
        (locked, unreachable: the caller tries the same group again)."""
        after: list[Callable[[], None]] = []
        acks: dict[tuple[str, str, str], Callable[[], None]] = {}
        try:
            # parsed and prepared before the write lock is taken: another worker may write
            ready = [prepare(message) for message in messages]
            with store.group():
                parsed: list[tuple[topics.TopicInfo, Prepared]] = []
                for message, pre in zip(messages, ready, strict=True):
                    self._handle(store, message, after, parsed, pre)
                if parsed:
                    max_future = timedelta(seconds=self.settings.max_future_s)
                    results = store.ingest_many(
                        [prepared for _, prepared in parsed], self.now(),
                        max_future=max_future,
                    )  # fmt: skip
                    for (info, _), result in zip(parsed, results, strict=True):
                        self._filed(store, info, result, after, acks)
        except CentralStoreError as exc:
            if not caused_by_data(exc):
                self.stats.errors += 1
                log.warning("storing a group of %d messages failed; trying again: %s",
                            len(messages), exc)  # fmt: skip
                return None
            log.warning("a group of %d messages failed; one by one", len(messages), exc_info=True)
            return False
        except Exception:
            log.warning("a group of %d messages failed; one by one", len(messages), exc_info=True)
            return False
        self.stats.messages += len(messages)
        self.stats.groups += 1
        for action in (*after, *acks.values()):
            action()
        return True

    def _store_safely(self, store: CentralStore, message: Message) -> bool:
        """Handle one message until it is stored or kept; False if stopped before that."""
        self.stats.messages += 1
        refused = 0
        while True:
            try:
                after: list[Callable[[], None]] = []
                self._handle(store, message, after)
                for action in after:
                    action()
                return True
            except CentralStoreError as exc:
                self.stats.errors += 1
                refused = refused + 1 if caused_by_data(exc) else 0
                if refused < self.settings.refused_tries:
                    log.exception("storing a message on %s failed; trying again", message.topic)
                elif self._put_aside(store, message, exc):
                    return True  # the same answer each time: this message, not the database
            except Exception as exc:  # a bug: keep the message aside rather than lose it
                self.stats.errors += 1
                if database_state_error(exc):  # e.g. reading after a lost connection: later
                    log.exception("the database failed on a message on %s; trying again",
                                  message.topic)  # fmt: skip
                    if self._stop.wait(self.settings.retry_s):
                        return False
                    self.on_progress()
                    continue
                log.exception("ingest of a message on %s failed", message.topic)
                try:
                    self._quarantine(store, message, f"ingest failed: {exc!r}", None)
                    return True
                except CentralStoreError:
                    log.exception("quarantine failed too; trying again")
            if self._stop.wait(self.settings.retry_s):
                return False
            self.on_progress()

    def _put_aside(self, store: CentralStore, message: Message, exc: CentralStoreError) -> bool:
        """A message the database refuses for its data: its events stored apart, the refused
        one put aside (:meth:`_store_apart`); if even that is refused, the whole message in
        quarantine, once. False if the database failed otherwise meanwhile (try again later)."""
        log.error("the database refuses a message on %s: %s", message.topic, exc)
        try:
            self._store_apart(store, message)
            return True
        except CentralStoreError as again:
            if not caused_by_data(again):
                log.exception("storing its events one by one failed; trying again")
                return False
        info = topics.parse(message.topic)
        try:
            reason = f"refused by the database: {exc}"
            self._quarantine(store, message, reason, info.device if info else None, once=True)
            return True
        except CentralStoreError:
            log.exception("quarantine failed too; trying again")
            return False

    def _handle(
        self,
        store: CentralStore,
        message: Message,
        after: list[Callable[[], None]],
        parsed: list[tuple[topics.TopicInfo, Prepared]] | None = None,
        pre: _Ready | None = None,
    ) -> None:
        """Store one message; what it publishes is appended to ``after`` (run once committed).
        With ``parsed``, a batch is only prepared and appended there, for the caller to file;
        ``pre``: the message as :func:`prepare` read it."""
        info = topics.parse(message.topic) if pre is None else pre[0]
        if info is not None and info.device is not None and info.kind is topics.Kind.STATUS:
            self._handle_status(store, message, info)
        elif info is not None and info.device is not None and info.kind is topics.Kind.EVENTS:
            self._handle_events(store, message, info, after, parsed, pre)
        else:
            self._quarantine(store, message, f"not a device topic: {message.topic}", None)

    def _alert(self, text: str) -> None:
        log.error("ALERT %s", text)
        if self.on_alert is not None:
            try:
                self.on_alert(text)
            except Exception:
                log.exception("alert handler failed")

    def _quarantine(
        self,
        store: CentralStore,
        message: Message,
        reason: str,
        device: str | None,
        once: bool = False,
    ) -> None:
        self.stats.quarantined += 1
        log.warning("quarantined message on %s: %s", message.topic, reason)
        store.quarantine(
            message.topic,
            reason,
            message.payload,
            self.now(),
            device=device,
            once=once or message.retain,  # a retained message comes again at every subscription
        )

    def _store_apart(self, store: CentralStore, message: Message) -> None:
        """A batch the database refused: its events one by one, each in its own transaction, and
        the one it refuses put aside (a placeholder filed, the event kept in quarantine with the
        database's reason), so the others are stored, the device's mark moves past it and its
        gap closes. Raises CentralStoreError if even the placeholder is refused."""
        info = topics.parse(message.topic)
        if info is None or info.device is None or info.kind is not topics.Kind.EVENTS:
            raise CentralStoreError(f"{message.topic}: not an events topic")
        batch = schema.parse_batch(message.payload, info.device)
        max_future = timedelta(seconds=self.settings.max_future_s)
        after: list[Callable[[], None]] = []
        for event in batch.events:
            one = schema.EventBatch(batch.device, (event,), batch.store, batch.pruned)
            try:
                result = store.ingest(info.branch, one, self.now(), max_future=max_future)
            except CentralStoreError as exc:
                if not caused_by_data(exc):
                    raise
                self.stats.quarantined += 1
                log.error("the database refuses seq %d of %s: %s", event.seq, info.device, exc)
                aside = one.put_aside(event.seq, f"refused by the centre's database: {exc}")
                result = store.ingest(info.branch, aside, self.now(), max_future=max_future)
            self._filed(store, info, result, after, None)
        for action in after:
            action()

    def _handle_events(
        self,
        store: CentralStore,
        message: Message,
        info: topics.TopicInfo,
        after: list[Callable[[], None]],
        parsed: list[tuple[topics.TopicInfo, Prepared]] | None = None,
        pre: _Ready | None = None,
    ) -> None:
        if message.retain:
            self.stats.retained_refused += 1
            self._quarantine(store, message, RETAINED_EVENTS, info.device)
            self.connection.publish(
                message.topic, b"", qos=1, retain=True, on_done=_log_refused_clear
            )
            return
        if not message.payload:
            return  # how a retained message is cleared (by us, above): nothing to store
        read = pre[1] if pre is not None else _read_batch(message, info)
        if isinstance(read, schema.SchemaError):
            self._quarantine(store, message, read.reason, info.device)
            return
        assert read is not None  # an events topic's message, not retained, not empty
        if parsed is not None:
            parsed.append((info, read))
            return
        max_future = timedelta(seconds=self.settings.max_future_s)
        result = store.ingest_many([read], self.now(), max_future=max_future)[0]
        self._filed(store, info, result, after, None)

    def _filed(
        self,
        store: CentralStore,
        info: topics.TopicInfo,
        result: IngestResult,
        after: list[Callable[[], None]],
        acks: dict[tuple[str, str, str], Callable[[], None]] | None,
    ) -> None:
        """What a stored batch calls for (alerts, the ack, a resend request), into ``after``;
        with ``acks``, the ack goes there instead, the latest of each store replacing the
        earlier (its mark is at least theirs)."""
        self.stats.batches += 1
        self.stats.events_stored += result.stored
        self.stats.duplicates += result.duplicates
        self.stats.invalid += result.invalid
        for conflict in result.conflicts:
            self.stats.conflicts += 1
            self._alert(
                f"device {info.device} (branch {info.branch}): seq {conflict.seq} arrived with "
                f"id {conflict.incoming_id} but is stored with id {conflict.stored_id}; "
                f"quarantined (was the device's store restored from a copy?)"
            )
        for broken in result.chain_breaks:
            self.stats.chain_breaks += 1
            self._alert(f"branch {info.branch}: {broken.describe()}")
        for branch in result.alerted:
            after.append(functools.partial(self._publish_alerts, store, branch))
        if result.lost_range is not None:
            self.stats.lost += result.lost
            first, last = result.lost_range
            self._alert(
                f"device {info.device} (branch {info.branch}), store {result.store!r}: "
                f"{result.lost} event(s) in seqs {first}..{last} were deleted on the device "
                f"after an earlier acknowledgement, before this centre held them (a new "
                f"database, or one restored from a backup older than the devices' "
                f"keep_acked_days?); filed as lost placeholders, the store's mark moves past "
                f"them (an older copy of the store imported fills them)"
            )
        if result.invalid:
            log.warning("%s: %d event(s) put aside (quarantine kind 'invalid')", info.device,
                        result.invalid)  # fmt: skip
        if result.replaced is not None:
            old = result.replaced
            self._alert(
                f"device {info.device} (branch {info.branch}): a new event store {result.store!r} "
                f"replaces store {old.store!r} (held here up to seq {old.contiguous_seq}, highest "
                f"{old.max_seq}, last seen {old.last_seen}); the new store is synced from seq 1, "
                f"events the old one never delivered are not here"
            )
        if not result.current and result.stored and (result.device, result.store) not in self._old:
            self._old.add((result.device, result.store))  # said once per store and process
            log.warning(
                "%s: new events from store %r, which another store of this device id replaced: "
                "a late backlog, or two devices with one id?",
                result.device,
                result.store,
            )
        if result.store_conflicts:
            # A store restored from a copy reuses sequence numbers: acking them would let the
            # device release events the centre holds only in quarantine. An operator decides.
            log.warning("%s: %d conflicts, no acknowledgement until resolved", info.device,
                        result.store_conflicts)  # fmt: skip
        elif result.advanced or result.stored == 0:
            ack = functools.partial(self._send_ack, info.branch, result)
            if acks is None:
                after.append(ack)
            else:
                acks[(info.branch, result.device, result.store)] = ack
        ask = self.gaps.update(info.branch, result.device, result.store, result.gap)
        if ask is not None:
            after.append(functools.partial(self._ask, ask))

    def _send_ack(self, branch: str, result: IngestResult) -> None:
        payload = schema.encode_ack(
            result.device, result.contiguous, store=result.store, event_id=result.contiguous_id
        )
        self.connection.publish(topics.ack(branch, result.device), payload, qos=1, retain=True)
        self.stats.acks_sent += 1

    def _ask(self, ask: ResendAsk) -> None:
        log.info("asking %s to resend seqs %d..%d", ask.device, ask.first, ask.last)
        payload = schema.encode_resend(ask.device, ask.first, ask.last, store=ask.store)
        self.connection.publish(topics.resend(ask.branch, ask.device), payload, qos=1)
        self.stats.resend_requests += 1

    def _handle_status(self, store: CentralStore, message: Message, info: topics.TopicInfo) -> None:
        if not message.payload:
            return  # a cleared retained status
        try:
            status = schema.parse_status(message.payload, info.device)
        except schema.SchemaError as exc:
            self._quarantine(store, message, exc.reason, info.device)
            return
        store.set_status(info.branch, status, self.now())
        self.stats.status_updates += 1


_Ready = tuple[topics.TopicInfo | None, Prepared | schema.SchemaError | None]
"""A message as :func:`prepare` read it: its topic, and its batch prepared for filing or why
it does not parse (None: nothing to file)."""


def _read_batch(message: Message, info: topics.TopicInfo) -> Prepared | schema.SchemaError:
    """An events message's batch, prepared for filing (no database needed), or why it does
    not parse."""
    try:
        return Prepared(info.branch, schema.parse_batch(message.payload, info.device))
    except schema.SchemaError as exc:
        return exc


def prepare(message: Message) -> _Ready:
    """What of ``message`` can be done without the database: its topic read and, for an events
    message to file, its batch parsed and prepared."""
    info = topics.parse(message.topic)
    if (
        info is None or info.device is None or info.kind is not topics.Kind.EVENTS
        or message.retain or not message.payload
    ):  # fmt: skip
        return info, None
    return info, _read_batch(message, info)


def _log_refused_clear(result: PublishResult) -> None:
    if not result.ok:
        log.warning(
            "the broker refused to clear a retained events message (%s): give the ingest's "
            "identity write access to cs/v1/+/+/events (sync.acl does)",
            result.reason,
        )
