"""Several ingest workers on one database (an MQTT shared subscription) give the same rows and
rollups as one centre given the same events: on SQLite and on PostgreSQL (issue 9, item 10).

Three counters' simulated mornings (real device stores, real uplinks over TLS to a real
Mosquitto), drained by two workers of one share group into one database; then the same events
ingested by one store, in order, into another database; every derived table must be equal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from central.ingest import CentralIngest
from central.store import CentralStore
from config.loader import load_config
from device.app import DeviceApp
from device.simulation import Simulation
from device.store import EventStore
from domain.clock import ManualClock
from sync.acl import Identity, Role
from sync.schema import EventBatch
from sync.settings import IngestSettings, UplinkSettings
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import CENTRE, Device, connection_settings, roster, wait_until

PADS = ("pad-1", "pad-2", "pad-3")
OPENING = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
DERIVED = ("transactions", "rollups", "rollup_levels", "rollup_waits", "tellers", "uptime_days")


def simulate(path: Path, device: str, seed: int) -> None:
    config = load_config()
    clock = ManualClock(wall=OPENING, boot=f"sim-{device}")
    with EventStore(path, device) as store:
        Simulation(DeviceApp(config, store, clock), clock, customers=25, seed=seed).run()


def derived(store: CentralStore) -> dict[str, list]:
    out = {t: sorted(store.query(f"SELECT * FROM {t}")) for t in DERIVED}
    out["events"] = sorted(store.query("SELECT device_id, store, seq, id FROM events"))
    return out


def test_two_workers_give_what_one_gives(mqtt_broker, tmp_path: Path, new_centre_db) -> None:
    second = Identity(None, f"{CENTRE}-2", Role.CENTRAL)  # each worker its own certificate
    broker = mqtt_broker(acl=[*roster(*PADS), second])
    # small batches: many messages, so that the share group hands both workers some however
    # the two subscriptions' start and the devices' first sends fall
    small = UplinkSettings(batch_max_events=10)
    devices = [Device(broker, tmp_path, name, uplink_settings=small) for name in PADS]
    for seed, device in enumerate(devices, 1):
        simulate(device.db, device.name, seed)
    shared = new_centre_db()
    settings = IngestSettings("workers", resend_interval_s=1.0)
    workers = [
        CentralIngest(
            shared, connection_settings(broker, CENTRE, client_id=f"centre-{i}"), settings
        )
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
        assert worker.wait_connected(10)
    try:
        for device in devices:
            device.start()
        last = {d.name: d.last_seq() for d in devices}
        wait_until(lambda: all(d.acked() == last[d.name] for d in devices), 60, "every ack")
    finally:
        for device in devices:
            device.stop()
        for worker in workers:
            worker.stop()
    assert all(w.stats.batches for w in workers), "both workers took a share"

    single = new_centre_db()
    with CentralStore(single) as one:
        for device in devices:
            with EventStore(device.db, device.name) as store:
                events, sid = store.events(), store.store_id
            for i in range(0, len(events), 200):
                batch = EventBatch(device.name, tuple(events[i : i + 200]), sid)
                one.ingest(device.branch, batch, datetime.now(UTC))
        expected = derived(one)
    with CentralStore(shared) as many:
        got = derived(many)
    assert len(expected["transactions"]) > 50
    assert got == expected
