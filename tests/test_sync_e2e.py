"""Device uplink and central ingest end to end through a real Mosquitto with TLS client certs
and the production ACL: acknowledgement, refusal, reconnect, retained ack, gap resend, quarantine.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.store import CentralStore
from device.store import EventStore
from domain.clock import ManualClock
from sim.proxy import TcpProxy
from sync import schema, topics
from sync.connection import LinkState, Message, MqttConnection
from sync.settings import Backoff, UplinkSettings
from tests.mqtt_broker import ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import (
    BRANCH,
    FAST_UPLINK,
    MONITOR,
    Device,
    append_events,
    centre_contiguous,
    check_exactly_once,
    connection_settings,
    roster,
    start_centre,
    wait_until,
)

PAD = "pad-1"


def test_happy_path_every_event_once_then_acked(mqtt_broker, tmp_path: Path) -> None:
    broker = mqtt_broker(acl=roster(PAD))
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    device = Device(broker, tmp_path, PAD)
    device.append(120)
    device.start()
    try:
        assert device.uplink.wait_acked(120, 20)
        last = device.append(130)  # events appended while running go out too
        assert device.uplink.wait_acked(last, 20)
        with EventStore(device.db, PAD) as store:
            assert store.outbox_size() == 0
        delivery = check_exactly_once(tmp_path / "centre.sqlite", device.db, PAD)
        assert delivery.produced == 250
        with EventStore(device.db, PAD) as store, sqlite3.connect(tmp_path / "centre.sqlite") as c:
            hashes = [e.chain_hash() for e in store.events()]
            prevs = [p for (p,) in c.execute("SELECT prev FROM events ORDER BY seq")]
        assert prevs[1:] == hashes[:-1]  # the hash chain reached the centre whole
        stats = device.uplink.stats
        assert stats.batches_refused == 0 and stats.acked_seq == 250
        assert stats.events_sent >= 250  # batches of at most 50
        assert stats.batches_sent >= 250 // FAST_UPLINK.batch_max_events
        wait_until(lambda: _status(tmp_path, PAD) == "online", 5, "online status at the centre")
    finally:
        device.stop()
    wait_until(lambda: _status(tmp_path, PAD) == "offline", 5, "offline status after stop")
    with ProbeClient(broker, MONITOR) as probe:
        assert probe.subscribe(topics.status(BRANCH, PAD)) == [1]
        retained = probe.wait_for_message(topics.status(BRANCH, PAD))
        status = schema.parse_status(bytes(retained.payload), PAD)
        assert (status.state, status.reason, retained.retain) == ("offline", "shutdown", 1)
    centre.stop()


def _status(tmp_path: Path, device: str) -> str | None:
    with CentralStore(tmp_path / "centre.sqlite") as store:
        row = store.device(device)
    return row.status if row else None


def test_refused_batches_are_not_counted_and_are_retried(mqtt_broker, tmp_path: Path) -> None:
    """The ACL does not know the pad yet: every batch gets PUBACK 0x87; once it does, all flow."""
    broker = mqtt_broker(acl=roster())  # only the centre
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    device = Device(broker, tmp_path, PAD)
    device.append(40)
    device.start()
    try:
        wait_until(lambda: device.uplink.stats.batches_refused >= 3, 15, "three refusals")
        stats = device.uplink.stats
        assert stats.events_sent == 0 and stats.batches_sent == 0
        assert device.acked() == 0
        with EventStore(device.db, PAD) as store:
            assert store.outbox_size() == 40
        assert "Denied PUBLISH from pad-1" in broker.log_text()
        broker.set_acl(roster(PAD))  # the pad is enrolled: the next retry goes through
        assert device.uplink.wait_acked(40, 20)
        assert device.uplink.stats.events_sent >= 40
        check_exactly_once(tmp_path / "centre.sqlite", device.db, PAD)
    finally:
        device.stop()
        centre.stop()


def test_reconnect_resends_from_the_acknowledged_mark(mqtt_broker, tmp_path: Path) -> None:
    """Published to a broker with nobody listening (PUBACKed, lost): the reconnect resends."""
    broker = mqtt_broker(acl=roster(PAD))
    slow_timeout = UplinkSettings(batch_max_events=50, ack_timeout_s=600, poll_s=0.2)
    with TcpProxy(broker.host, broker.tls_port) as proxy:
        device = Device(broker, tmp_path, PAD, port=proxy.port, uplink_settings=slow_timeout)
        device.append(100)
        watcher = ProbeClient(broker, MONITOR).connect()
        watcher.subscribe(topics.status(BRANCH, PAD))
        device.start()
        try:
            wait_until(lambda: device.uplink.stats.events_sent >= 100, 10, "100 events PUBACKed")
            assert device.acked() == 0  # a PUBACK releases nothing
            centre = start_centre(broker, tmp_path / "centre.sqlite")
            assert proxy.drop() == 1
            assert device.uplink.wait_acked(100, 20)
            stats = device.uplink.stats
            assert stats.sessions == 2 and stats.ack_timeouts == 0
            assert stats.events_sent >= 200
            check_exactly_once(tmp_path / "centre.sqlite", device.db, PAD)
            centre.stop()
        finally:
            device.stop()
    wait_until(lambda: len(watcher.received()) >= 4, 5, "four status messages")
    watcher.close()
    states = [(s.state, s.reason) for s in map(_parse_status, watcher.received())]
    assert states == [
        ("online", "connected"),
        ("offline", "connection lost"),  # the last will, published by the broker on the drop
        ("online", "connected"),
        ("offline", "shutdown"),
    ]


def _parse_status(message) -> schema.Status:
    return schema.parse_status(message.payload, PAD)


def test_retained_ack_reaches_a_device_while_the_centre_is_down(
    mqtt_broker, tmp_path: Path
) -> None:
    broker = mqtt_broker(acl=roster(PAD))
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    device = Device(broker, tmp_path, PAD)
    device.append(60)
    backup = tmp_path / "before-ack.sqlite"
    shutil.copy(device.db, backup)  # the store as it was before the centre's ack arrived
    device.start()
    assert device.uplink.wait_acked(60, 20)
    device.stop()
    centre.stop()
    shutil.copy(backup, device.db)  # e.g. the ack was lost with the connection
    assert device.acked() == 0
    quiet = Device(broker, tmp_path, PAD, uplink_settings=UplinkSettings(ack_timeout_s=600))
    quiet.start()
    try:
        assert quiet.uplink.wait_acked(60, 10)  # from the retained ack: no centre is running
        assert quiet.acked() == 60
    finally:
        quiet.stop()


def test_centre_asks_for_a_gap_and_the_device_answers(mqtt_broker, tmp_path: Path) -> None:
    """Events 1..30 vanish (no subscriber yet); event 31 reveals the gap; resend fills it."""
    broker = mqtt_broker(acl=roster(PAD))
    no_timeout = UplinkSettings(batch_max_events=10, ack_timeout_s=600, poll_s=0.2)
    device = Device(broker, tmp_path, PAD, uplink_settings=no_timeout)
    device.append(30)
    device.start()
    try:
        wait_until(lambda: device.uplink.stats.events_sent >= 30, 10, "30 events PUBACKed")
        centre = start_centre(broker, tmp_path / "centre.sqlite")
        device.append(1)
        assert device.uplink.wait_acked(31, 20)
        stats = device.uplink.stats
        assert stats.resend_requests >= 1 and stats.resent_events >= 30
        assert stats.sessions == 1 and stats.ack_timeouts == 0
        assert centre.stats.resend_requests >= 1
        check_exactly_once(tmp_path / "centre.sqlite", device.db, PAD)
        centre.stop()
    finally:
        device.stop()


def test_a_centre_restored_from_an_older_backup_gets_back_what_the_devices_hold(
    mqtt_broker, tmp_path: Path
) -> None:
    """The centre's database is replaced by last night's copy, which lacks events acknowledged
    since. The device keeps acknowledged events, so it sends them again when the centre asks
    for the gap, and the centre's acknowledgement moves on past the device's mark."""
    broker = mqtt_broker(acl=roster(PAD))
    db, backup = tmp_path / "centre.sqlite", tmp_path / "last-night.sqlite"
    no_timeout = UplinkSettings(batch_max_events=10, ack_timeout_s=600, poll_s=0.2)
    device = Device(broker, tmp_path, PAD, uplink_settings=no_timeout)
    device.append(40)
    centre = start_centre(broker, db)
    device.start()
    try:
        assert device.uplink.wait_acked(40, 20)
        with closing(sqlite3.connect(db)) as live, closing(sqlite3.connect(backup)) as copy:
            live.backup(copy)  # the nightly backup: events 1..40
        last = device.append(60)
        assert device.uplink.wait_acked(last, 20)  # 41..100 acknowledged, then the disk fails
        centre.stop()
        for suffix in ("-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        shutil.copy(backup, db)
        centre = start_centre(broker, db)
        last = device.append(10)  # 101..110 reveal the gap 41..100
        wait_until(lambda: centre_contiguous(db, PAD) == last, 20, "every event at the centre")
        assert device.uplink.wait_acked(last, 20)
        assert device.uplink.stats.resent_events >= 60
        check_exactly_once(db, device.db, PAD)
        centre.stop()
    finally:
        device.stop()


def test_a_new_centre_gets_the_whole_history_of_a_running_fleet(
    mqtt_broker, tmp_path: Path
) -> None:
    """A bank moves its centre to a new, empty database (another machine, PostgreSQL) while
    its devices run on: each device's next batch shows the new centre everything before it is
    missing, and the device sends its whole store again, acknowledged events included."""
    broker = mqtt_broker(acl=roster(PAD))
    old, new = tmp_path / "old-centre.sqlite", tmp_path / "new-centre.sqlite"
    no_timeout = UplinkSettings(batch_max_events=20, ack_timeout_s=600, poll_s=0.2)
    device = Device(broker, tmp_path, PAD, uplink_settings=no_timeout)
    device.append(150)
    centre = start_centre(broker, old)
    device.start()
    try:
        assert device.uplink.wait_acked(150, 20)
        centre.stop()
        centre = start_centre(broker, new)
        last = device.append(5)
        wait_until(lambda: centre_contiguous(new, PAD) == last, 30, "the whole store at the centre")
        assert device.uplink.wait_acked(last, 20)
        check_exactly_once(new, device.db, PAD)
        centre.stop()
    finally:
        device.stop()


def test_a_new_centre_files_what_the_devices_deleted_as_lost_and_acks_on(
    mqtt_broker, tmp_path: Path
) -> None:
    """The old centre acknowledged seqs 1..100; the device then deleted 1..60 (older than the
    days it keeps). A new, empty centre cannot get them back: the device's batches say so
    (``pruned``), the centre files 60 lost placeholders, asks for 61..100 (still on the device)
    and acknowledges everything, so the device's window never fills."""
    broker = mqtt_broker(acl=roster(PAD))
    old, new = tmp_path / "old-centre.sqlite", tmp_path / "new-centre.sqlite"
    clock = ManualClock(wall=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    no_timeout = UplinkSettings(batch_max_events=20, ack_timeout_s=600, poll_s=0.2)
    device = Device(broker, tmp_path, PAD, uplink_settings=no_timeout)
    append_events(device.db, PAD, 60, clock)
    clock.advance(40 * 86400)
    append_events(device.db, PAD, 40, clock)
    centre = start_centre(broker, old)
    device.start()
    alerts: list[str] = []
    try:
        assert device.uplink.wait_acked(100, 20)
        centre.stop()
        with EventStore(device.db, PAD) as store:  # retention, 30 days on
            assert store.prune(clock.now().wall - timedelta(days=30)) == 60
            sid = store.store_id
        centre = start_centre(broker, new, alerts=alerts)
        last = device.append(5)
        wait_until(lambda: centre_contiguous(new, PAD) == last, 30, "the mark at the last seq")
        assert device.uplink.wait_acked(last, 20)
        assert centre.stats.lost == 60
        centre.stop()
    finally:
        device.stop()
    with CentralStore(new) as central, EventStore(device.db, PAD) as store:
        held = central.event_ids(PAD)
        assert sorted(held) == list(range(1, last + 1))
        assert sorted(s for s, i in held.items() if i.startswith("lost-")) == list(range(1, 61))
        assert {s: held[s] for s in range(61, last + 1)} == {e.seq: e.id for e in store.events()}
        assert central.chain_breaks(PAD) == []
        assert store.acked_seq() == last
    assert [a for a in alerts if "lost" in a] == [
        f"device {PAD} (branch {BRANCH}), store {sid!r}: 60 event(s) in seqs 1..60 were deleted "
        "on the device after an earlier acknowledgement, before this centre held them (a new "
        "database, or one restored from a backup older than the devices' keep_acked_days?); "
        "filed as lost placeholders, the store's mark moves past them (an older copy of the "
        "store imported fills them)"
    ]


def test_a_store_restored_from_an_older_copy_never_takes_an_ack_of_its_other_history(
    mqtt_broker, tmp_path: Path
) -> None:
    """The SD card is restored from an image taken at seq 20 (same store, seqs reused). The
    broker still holds the retained ack 60 of the store's first life. Once the store has grown
    past 60 with other events, that ack comes again at a reconnect: the device must not take
    it (it would release, and with retention delete, events the centre never received). The
    ack names the id of the centre's event 60, which is not the device's."""
    broker = mqtt_broker(acl=roster(PAD))
    db = tmp_path / "centre.sqlite"
    centre = start_centre(broker, db)
    device = Device(broker, tmp_path, PAD)
    device.append(20)
    image = tmp_path / "sd-image.sqlite"
    shutil.copy(device.db, image)
    device.append(40)
    device.start()
    assert device.uplink.wait_acked(60, 20)
    device.stop()
    with ProbeClient(broker, MONITOR) as probe, EventStore(device.db, PAD) as store:
        assert probe.subscribe(topics.ack(BRANCH, PAD)) == [1]
        ack = schema.parse_ack(bytes(probe.wait_for_message(topics.ack(BRANCH, PAD)).payload))
        assert (ack.upto, ack.id) == (60, store.event_id(60))
    shutil.copy(image, device.db)  # the store as the image had it: 1..20, nothing acknowledged
    quiet = UplinkSettings(ack_timeout_s=600, poll_s=0.2)
    device = Device(broker, tmp_path, PAD, uplink_settings=quiet)
    device.start()
    try:
        last = device.append(50)  # 21..70: 21..60 are other events than the centre's
        wait_until(lambda: _conflicts(db) >= 40, 20, "the conflicts at the centre")
    finally:
        device.stop()
    device = Device(broker, tmp_path, PAD, uplink_settings=quiet)
    device.start()  # a reconnect: the retained ack 60 comes again, now within the store
    try:
        wait_until(lambda: device.uplink.stats.acks_received >= 1, 10, "the retained ack")
        wait_until(lambda: device.uplink.stats.acks_refused >= 1, 10, "the ack refused")
        assert device.acked() == 0
        with EventStore(device.db, PAD) as store:
            assert store.outbox_size() == last  # nothing released
    finally:
        device.stop()
        centre.stop()


def _conflicts(db: Path) -> int:
    with CentralStore(db) as store:
        return len(store.quarantined("conflict"))


def test_malformed_messages_are_quarantined_and_ingest_goes_on(mqtt_broker, tmp_path: Path) -> None:
    broker = mqtt_broker(acl=roster(PAD))
    alerts: list[str] = []
    centre = start_centre(broker, tmp_path / "centre.sqlite", alerts=alerts)
    device = Device(broker, tmp_path, PAD)
    device.append(20)
    events_topic = topics.events(BRANCH, PAD)
    good = json.loads(schema.encode_batch(PAD, [_fake(1, "x")]))
    with ProbeClient(broker, PAD) as pad:
        assert pad.publish(events_topic, b"\x00 not json") < 0x80
        assert pad.publish(events_topic, json.dumps({**good, "v": 9})) < 0x80
        assert pad.publish(events_topic, json.dumps({**good, "device": "pad-9"})) < 0x80
    wait_until(lambda: centre.stats.quarantined == 3, 10, "three quarantined messages")
    device.start()
    try:
        assert device.uplink.wait_acked(20, 20)
    finally:
        device.stop()
    with EventStore(device.db, PAD) as store:
        store_id = store.store_id
    with ProbeClient(broker, PAD) as pad:  # seq 1 of the same store again, another id: a conflict
        other = schema.encode_batch(PAD, [_fake(1, "other")], store=store_id)
        assert pad.publish(events_topic, other) < 0x80
    wait_until(lambda: centre.stats.conflicts == 1, 10, "the conflict")
    centre.stop()
    check_exactly_once_but_conflict(tmp_path, device)
    with CentralStore(tmp_path / "centre.sqlite") as store:
        malformed = store.quarantined("malformed")
        conflicts = store.quarantined("conflict")
    reasons = [q["reason"] for q in malformed]
    assert reasons[0].startswith("not JSON") or reasons[0].startswith("not UTF-8")
    assert reasons[1] == "unsupported version 9 (this software speaks v1)"
    assert reasons[2] == "device 'pad-9' in the payload does not match 'pad-1'"
    assert malformed[0]["raw"] == b"\x00 not json" and malformed[0]["device_id"] == PAD
    assert [c["seq"] for c in conflicts] == [1] and "other" in conflicts[0]["reason"]
    assert len(alerts) == 1 and "seq 1" in alerts[0]


def check_exactly_once_but_conflict(tmp_path: Path, device: Device) -> None:
    with EventStore(device.db, PAD) as store:
        produced = {e.seq: e.id for e in store.events()}
    with CentralStore(tmp_path / "centre.sqlite") as store:
        assert store.event_ids(PAD) == produced  # the conflicting copy changed nothing


def _fake(seq: int, marker: str):
    from datetime import UTC, datetime

    from domain.events import StoredEvent

    return StoredEvent(
        seq, f"fake-{marker}-{seq}", PAD, "b", 1.0, datetime(2026, 1, 1, tzinfo=UTC), "t", {}
    )


def test_boot_without_network_then_the_broker_appears(mqtt_broker, tmp_path: Path) -> None:
    broker = mqtt_broker(acl=roster(PAD), start=False)  # ports chosen, nobody listening
    device = Device(broker, tmp_path, PAD)
    device.append(30)
    started = time.monotonic()
    device.start()  # connect_async + loop_start: returns at once
    try:
        assert time.monotonic() - started < 5.0  # no blocking connect
        time.sleep(1.0)  # a few refused attempts
        assert device.connection.state is LinkState.CONNECTING
        broker.start()
        centre = start_centre(broker, tmp_path / "centre.sqlite")
        assert device.uplink.wait_acked(30, 20)
        centre.stop()
    finally:
        device.stop()


def test_a_failing_handler_or_listener_does_not_stop_the_network_loop(
    mqtt_broker, tmp_path: Path
) -> None:
    broker = mqtt_broker(acl=roster(PAD))
    calls: list[bytes] = []

    def handler(message: Message) -> None:
        calls.append(message.payload)
        raise RuntimeError("a faulty handler")

    def listener(state: LinkState) -> None:
        raise RuntimeError("a faulty listener")

    connection = MqttConnection(connection_settings(broker, MONITOR))
    connection.add_state_listener(listener)
    connection.subscribe(topics.status(BRANCH, PAD), handler)
    connection.start()
    try:
        assert connection.wait_connected(10)
        with ProbeClient(broker, PAD) as pad:
            for state in ("online", "offline", "online"):
                status = schema.encode_status(schema.Status(PAD, state))
                pad.publish(topics.status(BRANCH, PAD), status)
        wait_until(lambda: len(calls) == 3, 5, "three deliveries despite the exceptions")
        assert connection.connected
    finally:
        connection.stop()
    assert connection.state is LinkState.STOPPED


def test_a_subscription_made_while_the_connection_comes_up_is_not_lost(
    mqtt_broker, tmp_path: Path
) -> None:
    """A part subscribing just as the connection comes up (after the connect read the
    subscriptions, before the state says connected) is subscribed all the same: a hall board
    that lost this race heard no call until its next reconnect."""
    broker = mqtt_broker(acl=roster(PAD))
    calls: list[bytes] = []
    topic = topics.status(BRANCH, PAD)

    class RacingConnection(MqttConnection):
        def _on_connected(self) -> None:  # another thread's subscribe, landing in the window
            self.subscribe(topic, lambda message: calls.append(message.payload))

    connection = RacingConnection(connection_settings(broker, MONITOR))
    connection.start()
    try:
        assert connection.wait_subscribed(10)
        with ProbeClient(broker, PAD) as pad:
            pad.publish(topic, schema.encode_status(schema.Status(PAD, "online")))
        wait_until(lambda: len(calls) == 1, 5, "the message on the racing subscription")
    finally:
        connection.stop()


def test_backoff_is_jittered_exponential_and_capped() -> None:
    backoff = Backoff(initial_s=1.0, max_s=30.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, top in ((0, 1.0), (1, 2.0), (3, 8.0), (10, 30.0), (500, 30.0)):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(top / 2 <= d <= top for d in delays)
        assert max(delays) - min(delays) > top / 4  # really spread: no thundering herd


def test_a_fresh_store_under_the_same_device_id_is_synced_in_full(
    mqtt_broker, tmp_path: Path
) -> None:
    """A re-imaged pad (same device id, new store) finds the retained ack of its earlier store on
    the broker. It must not release its own events on it: the centre files the new store's
    events beside the old ones, says the store was replaced, and acknowledges the new store."""
    broker = mqtt_broker(acl=roster(PAD))
    alerts: list[str] = []
    centre = start_centre(broker, tmp_path / "centre.sqlite", alerts=alerts)
    old = Device(broker, tmp_path / "old", PAD)
    old.append(300)
    old.start()
    assert old.uplink.wait_acked(300, 20)
    old.stop()  # the retained ack says 300 for this device
    with EventStore(old.db, PAD) as store:
        old_store, old_ids = store.store_id, {e.seq: e.id for e in store.events()}
    fresh = Device(
        broker, tmp_path / "fresh", PAD, uplink_settings=UplinkSettings(ack_timeout_s=600)
    )
    fresh.append(500)
    with EventStore(fresh.db, PAD) as store:
        fresh_store = store.store_id
    assert fresh_store != old_store
    fresh.start()
    try:
        assert fresh.uplink.wait_acked(500, 20)
        assert fresh.uplink.stats.foreign_acks >= 1  # the old store's retained ack, ignored
        check_exactly_once(tmp_path / "centre.sqlite", fresh.db, PAD)
    finally:
        fresh.stop()
        centre.stop()
    with CentralStore(tmp_path / "centre.sqlite") as central:
        assert central.event_ids(PAD, store=old_store) == old_ids  # nothing of the old store lost
        row = central.device(PAD)
        assert row is not None and (row.store, row.stores) == (fresh_store, 2)
    assert any("replaces" in a and old_store in a and fresh_store in a for a in alerts), alerts
