"""The centre's MQTT consumer: stores device batches, acknowledges them end to end, asks for gaps.

For each message on ``cs/v1/+/+/events`` (QoS 1, persistent session):

1. parse it (``sync.schema``); anything that does not parse is quarantined with its reason;
2. store it in one transaction (``CentralStore.ingest``: deduplicated by (device, seq),
   conflicts quarantined and alerted) and commit;
3. publish the device's highest contiguous seq to ``cs/v1/<branch>/<device>/ack`` (retained,
   QoS 1), so the device may release its events — only now, after the commit;
4. if later events are stored than the contiguous mark, publish ``.../resend`` for the missing
   range (again every ``resend_interval_s`` while it stays open).

The broker's PUBACK for the message goes out after the handler returned, so after the commit.
Retained ``.../status`` messages update the device's online/offline state.

Several workers: subscribe ``$share/<group>/cs/v1/+/+/events`` (``IngestSettings.share_group``);
the broker hands each message to one of them. Ingest is idempotent and the contiguous mark is
recomputed inside the write transaction and only grows, so any worker may take any batch; an ack
published out of order by a slower worker is lower than one the device already applied, and the
device ignores it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from central.store import CentralStore, IngestResult
from sync import schema, topics
from sync.connection import Message, MqttConnection
from sync.settings import ConnectionSettings, IngestSettings

log = logging.getLogger(__name__)

Alert = Callable[[str], None]


@dataclass
class IngestStats:
    messages: int = 0
    batches: int = 0
    events_stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    acks_sent: int = 0
    resend_requests: int = 0
    status_updates: int = 0
    errors: int = 0


@dataclass
class _Gap:
    branch: str
    store: str
    first: int
    last: int
    asked_at: float


class CentralIngest:
    """One ingest worker: a persistent MQTT session and the central store."""

    def __init__(
        self,
        store_path: str | Path,
        connection: ConnectionSettings,
        settings: IngestSettings | None = None,
        *,
        on_alert: Alert | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.settings = settings or IngestSettings()
        if connection.session_expiry_s == 0 and connection.clean_start:
            connection = replace(connection, clean_start=False, session_expiry_s=7 * 24 * 3600)
        self.connection = MqttConnection(connection)
        self.stats = IngestStats()
        self.on_alert = on_alert
        self._store: CentralStore | None = None
        self._gaps: dict[tuple[str, str], _Gap] = {}  # by (device, store)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def _filter(self, kind: topics.Kind) -> str:
        base = topics.topic_filter(kind)
        group = self.settings.share_group
        return f"$share/{group}/{base}" if group else base

    def start(self) -> None:
        self._store = CentralStore(self.store_path, any_thread=True)
        self.connection.subscribe(self._filter(topics.Kind.EVENTS), self._on_events)
        self.connection.subscribe(topics.topic_filter(topics.Kind.STATUS), self._on_status)
        self.connection.start()
        self._timer = threading.Thread(target=self._ask_again, name="ingest-gaps", daemon=True)
        self._timer.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect; the broker keeps the session and queues messages until the next start."""
        self._stop.set()
        self.connection.stop(timeout)
        if self._timer is not None:
            self._timer.join(timeout)
        if self._store is not None:
            self._store.close()
            self._store = None

    def wait_connected(self, timeout: float) -> bool:
        return self.connection.wait_connected(timeout)

    # --- handlers (paho thread) ----------------------------------------------------------------

    def _alert(self, text: str) -> None:
        log.error("ALERT %s", text)
        if self.on_alert is not None:
            try:
                self.on_alert(text)
            except Exception:
                log.exception("alert handler failed")

    def _quarantine(self, message: Message, reason: str, device: str | None) -> None:
        assert self._store is not None
        self.stats.quarantined += 1
        log.warning("quarantined message on %s: %s", message.topic, reason)
        self._store.quarantine(
            message.topic, reason, message.payload, datetime.now(UTC), device=device
        )

    def _on_events(self, message: Message) -> None:
        self.stats.messages += 1
        try:
            self._handle_events(message)
        except Exception:
            self.stats.errors += 1  # not acknowledged end to end: the device will send it again
            log.exception("ingest of a message on %s failed", message.topic)

    def _handle_events(self, message: Message) -> None:
        store = self._store
        if store is None:
            return
        info = topics.parse(message.topic)
        if info is None or info.kind is not topics.Kind.EVENTS or info.device is None:
            self._quarantine(message, f"not a device events topic: {message.topic}", None)
            return
        try:
            batch = schema.parse_batch(message.payload, info.device)
        except schema.SchemaError as exc:
            self._quarantine(message, exc.reason, info.device)
            return
        try:
            result = store.ingest(info.branch, batch, datetime.now(UTC))
        except (ValueError, OverflowError) as exc:  # parsed, yet not storable: keep it raw
            self._quarantine(message, f"not storable: {exc}", info.device)
            return
        self.stats.batches += 1
        self.stats.events_stored += result.stored
        self.stats.duplicates += result.duplicates
        for conflict in result.conflicts:
            self.stats.conflicts += 1
            self._alert(
                f"device {info.device} (branch {info.branch}): seq {conflict.seq} arrived with "
                f"id {conflict.incoming_id} but is stored with id {conflict.stored_id}; "
                f"quarantined (was the device's store replaced?)"
            )
        if result.replaced is not None:
            old = result.replaced
            self._alert(
                f"device {info.device} (branch {info.branch}): a new event store {result.store!r} "
                f"replaces store {old.store!r} (held here up to seq {old.contiguous_seq}, highest "
                f"{old.max_seq}, last seen {old.last_seen}); the new store is synced from seq 1, "
                f"events the old one never delivered are not here"
            )
        if result.store_conflicts:
            # A store restored from a copy reuses sequence numbers: acking them would let the
            # device release events the centre holds only in quarantine. An operator decides.
            log.warning("%s: %d conflicts, no acknowledgement until resolved", info.device,
                        result.store_conflicts)  # fmt: skip
        elif result.advanced or result.stored == 0:
            self._send_ack(info.branch, result)
        self._track_gap(info.branch, result)

    def _send_ack(self, branch: str, result: IngestResult) -> None:
        payload = schema.encode_ack(result.device, result.contiguous, store=result.store)
        self.connection.publish(topics.ack(branch, result.device), payload, qos=1, retain=True)
        self.stats.acks_sent += 1

    def _track_gap(self, branch: str, result: IngestResult) -> None:
        key = (result.device, result.store)
        with self._lock:
            if result.gap is None:
                self._gaps.pop(key, None)
                return
            first = result.gap[0]
            last = min(result.gap[1], first + self.settings.resend_max_events - 1)
            known = self._gaps.get(key)
            if known is not None and (known.first, known.last) == (first, last):
                return  # already asked; the timer asks again if it stays open
            gap = self._gaps[key] = _Gap(branch, result.store, first, last, time.monotonic())
        self._ask(result.device, gap)

    def _ask(self, device: str, gap: _Gap) -> None:
        log.info("asking %s to resend seqs %d..%d", device, gap.first, gap.last)
        payload = schema.encode_resend(device, gap.first, gap.last, store=gap.store)
        self.connection.publish(topics.resend(gap.branch, device), payload, qos=1)
        self.stats.resend_requests += 1

    def _ask_again(self) -> None:
        while not self._stop.wait(min(1.0, self.settings.resend_interval_s)):
            now = time.monotonic()
            with self._lock:
                due = [
                    (device, gap)
                    for (device, _store), gap in self._gaps.items()
                    if now - gap.asked_at >= self.settings.resend_interval_s
                ]
                for _, gap in due:
                    gap.asked_at = now
            for device, gap in due:
                if self.connection.connected:
                    self._ask(device, gap)

    def _on_status(self, message: Message) -> None:
        store = self._store
        info = topics.parse(message.topic)
        if store is None or info is None or info.device is None:
            return
        if not message.payload:
            return  # a cleared retained status
        try:
            status = schema.parse_status(message.payload, info.device)
        except schema.SchemaError as exc:
            log.warning("ignoring status on %s: %s", message.topic, exc.reason)
            return
        store.set_status(info.branch, status, datetime.now(UTC))
        self.stats.status_updates += 1
