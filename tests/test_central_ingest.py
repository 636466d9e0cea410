"""The central ingest against a real Mosquitto: a locked database loses nothing the broker was
told is safe, retained messages on device topics are refused once, and a gap that moves with
every batch is asked for once, not once per batch."""

from __future__ import annotations

import base64
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

import central.store as central_store
from central.ingest import RETAINED_EVENTS, CentralIngest
from central.store import CentralStore
from device.store import EventStore
from domain.clock import ManualClock
from domain.events import DomainEvent, StoredEvent
from sync import schema, topics
from sync.settings import IngestSettings, UplinkSettings
from tests.mqtt_broker import ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import (
    BRANCH,
    MONITOR,
    Device,
    check_exactly_once,
    roster,
    start_centre,
    wait_until,
)

PAD = "pad-1"


def test_batches_that_arrive_while_the_database_is_locked_are_never_lost(
    mqtt_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is locked by another program longer than the ingest's keepalive window, then
    the ingest stops before it could store anything. Neither may cost a batch: the network thread
    keeps the connection (it only hands messages on), and nothing is PUBACKed before it is
    stored, so the broker delivers it again. The device never resends (ack timeout 10 min)."""
    monkeypatch.setattr(central_store, "BUSY_TIMEOUT_S", 0.3)
    broker = mqtt_broker(acl=roster(PAD))
    db = tmp_path / "centre.sqlite"
    settings = IngestSettings(resend_interval_s=1.0, retry_s=0.1)
    centre = start_centre(broker, db, settings=settings)  # keepalive 2 s: dropped after 3 s
    patient = UplinkSettings(batch_max_events=10, ack_timeout_s=600, poll_s=0.2)
    device = Device(broker, tmp_path, PAD, uplink_settings=patient)
    device.append(100)  # ten batches
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # e.g. a report writing, or a backup
    try:
        device.start()
        wait_until(lambda: device.uplink.stats.events_sent >= 100, 10, "100 events PUBACKed")
        # ten tries of 0.3 s + 0.1 s: locked for 4 s and more, beyond the keepalive window
        wait_until(lambda: centre.stats.errors >= 10, 20, "the ingest to meet the lock")
        assert centre.connection.connects == 1  # never dropped by the broker meanwhile
        assert centre.stats.batches == 0
        centre.stop()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    centre = start_centre(broker, db, settings=settings)
    try:
        assert device.uplink.wait_acked(100, 20), "batches were lost with the lock"
        stats = device.uplink.stats
        assert (stats.ack_timeouts, stats.resend_requests) == (0, 0)  # the broker had them all
        check_exactly_once(db, device.db, PAD)
    finally:
        device.stop()
        centre.stop()


def test_retained_messages_on_device_topics_are_refused_once(mqtt_broker, tmp_path: Path) -> None:
    """A retained garbage batch and a retained malformed status: each is quarantined once with
    its reason, however often the ingest reconnects; the batch is also cleared from the broker."""
    broker = mqtt_broker(acl=roster(PAD))
    events_topic, status_topic = topics.events(BRANCH, PAD), topics.status(BRANCH, PAD)
    bad_status = b'{"v":1,"kind":"status","device":"pad-1","state":"asleep"}'
    with ProbeClient(broker, PAD) as pad:
        assert pad.publish(events_topic, b"garbage", retain=True) < 0x80
        assert pad.publish(status_topic, bad_status, retain=True) < 0x80
    db = tmp_path / "centre.sqlite"
    for expected in (2, 1, 1):  # the retained status comes again at every subscription
        centre = start_centre(broker, db)

        def enough(c: CentralIngest = centre, n: int = expected) -> bool:
            return c.stats.quarantined >= n

        wait_until(enough, 10, "retained ones")
        centre.stop()
    with CentralStore(db) as store:
        kept = [(q["topic"], q["reason"], q["raw"]) for q in store.quarantined()]
    assert kept == [
        (events_topic, RETAINED_EVENTS, b"garbage"),
        (status_topic, "Invalid enum value 'asleep' - at `$.state`", bad_status),
    ]
    with ProbeClient(broker, MONITOR) as watcher, ProbeClient(broker, PAD) as pad:
        watcher.subscribe(events_topic)
        pad.publish(events_topic, b"")  # after any retained copy: the first message is this one
        first = watcher.wait_for_message(events_topic)
    assert (first.payload, first.retain) == (b"", 0)


def test_a_gap_moving_with_every_batch_is_asked_for_once(mqtt_broker, tmp_path: Path) -> None:
    """After an outage batches land out of order, each moving the gap: one request, not nine."""
    broker = mqtt_broker(acl=roster(PAD))
    centre = start_centre(
        broker, tmp_path / "centre.sqlite", settings=IngestSettings(resend_interval_s=30.0)
    )
    store = str(uuid.uuid4())
    events_topic = topics.events(BRANCH, PAD)
    resend_topic, ack_topic = topics.resend(BRANCH, PAD), topics.ack(BRANCH, PAD)
    now = datetime.now(UTC)
    events = [
        StoredEvent(s, str(uuid.uuid4()), PAD, "boot", float(s), now, "rating.given", {})
        for s in range(1, 110)
    ]
    try:
        with ProbeClient(broker, MONITOR) as watcher, ProbeClient(broker, PAD) as pad:
            watcher.subscribe(resend_topic)
            watcher.subscribe(ack_topic)
            for first in range(100, 10, -10):  # 100..109, 90..99, ..., 20..29
                batch = schema.encode_batch(PAD, events[first - 1 : first + 9], store=store)
                assert pad.publish(events_topic, batch) < 0x80
            again = schema.encode_batch(PAD, events[99:109], store=store)
            assert pad.publish(events_topic, again) < 0x80  # nothing new: acknowledged at once
            watcher.wait_for_message(ack_topic, timeout=10)  # every request came before it
            asks = [
                schema.parse_resend(bytes(m.payload), PAD) for m in watcher.received(resend_topic)
            ]
    finally:
        centre.stop()
    assert asks == [schema.ResendRequest(PAD, 1, 99, store)]
    assert centre.stats.resend_requests == 1


def test_messages_waiting_are_stored_in_one_transaction_then_acknowledged(
    mqtt_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: the batches that wait while the database is busy are stored together in
    one transaction once it is free, and each device's ack follows the commit."""
    monkeypatch.setattr(central_store, "BUSY_TIMEOUT_S", 0.2)
    broker = mqtt_broker(acl=roster(PAD))
    db = tmp_path / "centre.sqlite"
    centre = start_centre(broker, db, settings=IngestSettings(retry_s=0.1))
    device = Device(broker, tmp_path, PAD, uplink_settings=UplinkSettings(batch_max_events=5))
    device.append(200)  # forty batches
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        device.start()
        wait_until(lambda: device.uplink.stats.events_sent >= 40, 10, "batches on their way")
        wait_until(lambda: centre.stats.errors >= 2, 10, "the ingest to meet the lock")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    try:
        assert device.uplink.wait_acked(200, 30)
        assert centre.stats.groups >= 1 and centre.stats.batches >= 2
        check_exactly_once(db, device.db, PAD)
    finally:
        device.stop()
        centre.stop()


POISON = '"n":6}'  # the payload of seq 7 of tests.sync_harness.append_events


def _refuse_poison(db: str) -> None:
    """The database itself refuses one event (a constraint on its payload), as it would a value
    it cannot hold; a placeholder for it (another payload) it takes."""
    with CentralStore(db) as store:
        if store._conn.dialect == "postgresql":
            store._conn.execute(
                f"ALTER TABLE events ADD CONSTRAINT refused CHECK (payload NOT LIKE '%{POISON}%')"
            )
        else:
            store._conn.execute(
                f"CREATE TRIGGER refused BEFORE INSERT ON events WHEN NEW.payload LIKE "
                f"'%{POISON}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )


def test_an_event_the_database_refuses_is_put_aside_and_the_rest_of_its_batch_flows(
    mqtt_broker, tmp_path: Path, centre_db
) -> None:
    """Refused for its data, a batch is tried ``refused_tries`` times, then its events one by
    one: the refused one is put aside (a placeholder filed, the event quarantined with the
    database's reason) and the other nine of its batch are stored, so the device's mark moves
    on and nothing is asked for again (before: the ingest retried it for ever, or quarantined
    the whole batch and asked for the gap every few seconds)."""
    broker = mqtt_broker(acl=roster(PAD))
    CentralStore(centre_db).close()
    _refuse_poison(centre_db)
    settings = IngestSettings(resend_interval_s=0.5, retry_s=0.05)
    centre = start_centre(broker, centre_db, settings=settings)
    device = Device(broker, tmp_path, PAD, uplink_settings=UplinkSettings(batch_max_events=10))
    device.append(10)
    device.start()
    try:
        assert device.uplink.wait_acked(10, 20), "the batch with the refused event never acked"
        device.append(5)
        assert device.uplink.wait_acked(15, 20)
        time.sleep(1.5)  # three resend intervals: nothing is asked for again
        with CentralStore(centre_db) as store:
            assert sorted(store.event_ids(PAD)) == list(range(1, 16))
            aside = store.quarantined()
        ((reason, seq),) = {(q["reason"], q["seq"]) for q in aside}
        assert seq == 7 and "refused by the centre's database" in reason and len(aside) == 1
        assert device.uplink.stats.resend_requests == 0
    finally:
        device.stop()
        centre.stop()


def test_on_postgresql_a_value_too_large_for_an_index_is_put_aside(
    mqtt_broker, tmp_path: Path, postgres_server
) -> None:
    """A teller field of 8,000 characters: PostgreSQL cannot index it (SQLSTATE 54000, program
    limit exceeded). It is the event's data, not the database's state: put aside, not retried
    for ever while nothing else is stored."""
    broker = mqtt_broker(acl=roster(PAD))
    db = postgres_server.new_database()
    centre = start_centre(broker, db, settings=IngestSettings(resend_interval_s=1.0, retry_s=0.05))
    device = Device(broker, tmp_path, PAD, uplink_settings=UplinkSettings(batch_max_events=1))
    huge = base64.b64encode(os.urandom(6000)).decode()
    with EventStore(device.db, PAD) as store:
        store.append(DomainEvent("counter.resumed", ManualClock().now(),
                                 {"counter": 1, "paused_s": 5.0, "teller": huge}))  # fmt: skip
    device.append(3)
    device.start()
    try:
        assert device.uplink.wait_acked(4, 30), "the ingest stalled on the huge value"
        with CentralStore(db) as store:
            assert sorted(store.event_ids(PAD)) == [1, 2, 3, 4]
            assert [q["seq"] for q in store.quarantined()] == [1]
    finally:
        device.stop()
        centre.stop()


def test_the_centre_on_postgresql_outlives_a_lost_database_connection(
    mqtt_broker, tmp_path: Path, postgres_server
) -> None:
    """The server drops the ingest's connection (a restart, a failover, an administrator): the
    next write connects again, nothing is lost or counted twice."""
    import psycopg

    broker = mqtt_broker(acl=roster(PAD))
    db = postgres_server.new_database()
    settings = IngestSettings(resend_interval_s=1.0, retry_s=0.1)
    centre = start_centre(broker, db, settings=settings)
    device = Device(broker, tmp_path, PAD, uplink_settings=UplinkSettings(batch_max_events=10))
    device.append(30)
    device.start()
    try:
        assert device.uplink.wait_acked(30, 20)
        with psycopg.connect(db, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        device.append(30)
        assert device.uplink.wait_acked(60, 30), "the ingest never came back"
        check_exactly_once(db, device.db, PAD)
    finally:
        device.stop()
        centre.stop()


def test_the_broker_may_deliver_more_than_its_default_window_before_the_commit(
    mqtt_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest acknowledges a message only once it is committed, so the broker's window of
    unacknowledged messages (Mosquitto's ``max_inflight_messages``, 20 here as by default) would
    cap what one commit can take; the ingest asks for its own (MQTT v5 Receive Maximum)."""
    monkeypatch.setattr(central_store, "BUSY_TIMEOUT_S", 0.2)
    broker = mqtt_broker(acl=roster(PAD))
    assert broker.max_inflight == 20
    db = tmp_path / "centre.sqlite"
    centre = start_centre(broker, db, settings=IngestSettings(retry_s=0.1))
    one_each = UplinkSettings(batch_max_events=1, max_inflight=20)
    device = Device(broker, tmp_path, PAD, uplink_settings=one_each)
    device.append(100)  # a hundred messages of one event
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        device.start()
        # nothing can be committed, so nothing is acknowledged: all wait in the ingest, the
        # first group it took (at most the device's window of 20) in its retries, the rest in
        # its inbox: far more than the broker's window of 20
        wait_until(lambda: centre._inbox.qsize() >= 75, 20, "the messages delivered at once")
        assert centre.stats.batches == 0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    try:
        assert device.uplink.wait_acked(100, 30)
        check_exactly_once(db, device.db, PAD)
    finally:
        device.stop()
        centre.stop()
