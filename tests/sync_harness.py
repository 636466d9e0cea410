"""Test helpers for the sync tests: devices and a centre wired to a ``tests.mqtt_broker`` broker.

Devices and the centre log in with client certificates (CN = identity) on the broker's TLS
listener, optionally through a ``sim.proxy.TcpProxy``. Settings are shortened (backoffs,
keepalive, ack timeout) so faults heal within seconds.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.ingest import CentralIngest
from central.store import CentralStore
from device.store import EventStore
from domain.clock import ManualClock
from domain.events import DomainEvent
from sync.acl import Identity, Role
from sync.connection import DeviceConnection
from sync.settings import Backoff, ConnectionSettings, IngestSettings, TlsSettings, UplinkSettings
from sync.uplink import Uplink
from tests.mqtt_broker import MosquittoBroker

BRANCH = "b1"
CENTRE = "centre"

FAST_UPLINK = UplinkSettings(
    batch_max_events=50,
    max_inflight=4,
    ack_timeout_s=3.0,
    ack_timeout_max_s=6.0,
    refused=Backoff(0.2, 1.0, 0.5),
    poll_s=0.2,
)
FAST_INGEST = IngestSettings(resend_interval_s=1.0)


MONITOR = "monitor"


def roster(*devices: str, branch: str = BRANCH) -> list[Identity]:
    """The centre, a read-only monitor and counters ``devices`` in ``branch``."""
    return [Identity(None, CENTRE, Role.CENTRAL), Identity(None, MONITOR, Role.MONITOR)] + [
        Identity(branch, d, Role.COUNTER) for d in devices
    ]


def connection_settings(
    broker: MosquittoBroker, name: str, *, port: int | None = None, **changes
) -> ConnectionSettings:
    cert, key = broker.client_cert(name)
    settings = ConnectionSettings(
        broker.host,
        port or broker.tls_port,
        client_id=name,
        tls=TlsSettings(broker.ca_path, cert, key),
        keepalive_s=2,
        reconnect=Backoff(0.1, 1.0, 0.5),
    )
    return replace(settings, **changes)


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def append_events(path: Path, device: str, n: int, clock: ManualClock | None = None) -> int:
    """Append ``n`` rating events; returns the last seq."""
    clock = clock or ManualClock()
    with EventStore(path, device) as store:
        events = [
            DomainEvent("rating.given", clock.advance(1), {"level": i % 5 + 1, "n": i})
            for i in range(n)
        ]
        stored = store.append_many(events)
        return stored[-1].seq if stored else store.last_seq()


def pruned_store(
    path: Path, device: str, old: int, recent: int, copy_to: Path | None = None
) -> str:
    """A store of ``old`` events 40 days old and ``recent`` new ones, all acknowledged, the old
    ones deleted (30 days kept); ``copy_to`` gets a copy taken before the deletion (an older
    image of the store). Returns the store's id."""
    clock = ManualClock(wall=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    append_events(path, device, old, clock)
    clock.advance(40 * 86400)
    last = append_events(path, device, recent, clock)
    with EventStore(path, device) as store:
        store.ack(last)
        if copy_to is not None:
            with closing(sqlite3.connect(copy_to)) as copy:
                store._conn.backup(copy)
        assert store.prune(clock.now().wall - timedelta(days=30)) == old
        return store.store_id


@dataclass
class Device:
    """A device's store, connection and uplink (not started)."""

    broker: MosquittoBroker
    directory: Path
    name: str
    branch: str = BRANCH
    port: int | None = None
    uplink_settings: UplinkSettings = FAST_UPLINK
    _connection: DeviceConnection | None = field(default=None, init=False)
    _uplink: Uplink | None = field(default=None, init=False)

    @property
    def db(self) -> Path:
        return self.directory / f"{self.name}.sqlite"

    @property
    def connection(self) -> DeviceConnection:
        assert self._connection is not None, "the device is not started"
        return self._connection

    @property
    def uplink(self) -> Uplink:
        assert self._uplink is not None, "the device is not started"
        return self._uplink

    def append(self, n: int) -> int:
        last = append_events(self.db, self.name, n)
        self.notify()
        return last

    def notify(self) -> None:
        """New events are in the store: once started, the uplink sends them without waiting."""
        if self._uplink is not None:
            self._uplink.notify()

    def start(self) -> Device:
        EventStore(self.db, self.name).close()
        settings = connection_settings(self.broker, self.name, port=self.port)
        connection = DeviceConnection(settings, self.branch, self.name, boot_id="boot-1")
        uplink = Uplink(
            connection,
            lambda: EventStore(self.db, self.name),
            self.branch,
            self.name,
            self.uplink_settings,
        )
        self._connection, self._uplink = connection, uplink
        uplink.start()
        connection.start()
        return self

    def stop(self) -> None:
        if self._uplink is not None:
            self._uplink.stop()
        if self._connection is not None:
            self._connection.stop()

    def acked(self) -> int:
        with EventStore(self.db, self.name) as store:
            return store.acked_seq()

    def last_seq(self) -> int:
        with EventStore(self.db, self.name) as store:
            return store.last_seq()


def start_centre(
    broker: MosquittoBroker,
    db: Path | str,
    *,
    port: int | None = None,
    settings: IngestSettings = FAST_INGEST,
    alerts: list[str] | None = None,
) -> CentralIngest:
    ingest = CentralIngest(
        db,
        connection_settings(broker, CENTRE, port=port),
        settings,
        on_alert=alerts.append if alerts is not None else None,
    )
    ingest.start()
    if not ingest.wait_connected(10):
        raise AssertionError("the centre did not connect to the broker")
    return ingest


def centre_contiguous(db: Path, device: str) -> int:
    with CentralStore(db) as store:
        return store.contiguous(device)


@dataclass(frozen=True)
class Delivery:
    """Figures for one device after a run."""

    device: str
    produced: int
    stored: int
    duplicates: int
    acked: int

    def line(self) -> str:
        return (
            f"{self.device}: produced {self.produced}, stored {self.stored}, "
            f"duplicates received and dropped {self.duplicates}, acked {self.acked}"
        )


def check_exactly_once(central_db: Path | str, device_db: Path, device: str) -> Delivery:
    """Every event of the device's store is at the centre once, same id, seqs 1..last, no gap."""
    with EventStore(device_db, device) as store:
        produced = {e.seq: e.id for e in store.events()}
        last, acked = store.last_seq(), store.acked_seq()
    with CentralStore(central_db) as central:
        held = central.event_ids(device)
        row = central.device(device)
        conflicts = central.quarantined("conflict")
    assert sorted(produced) == list(range(1, last + 1)), "the device store itself has a gap"
    missing = sorted(set(produced) - set(held))
    assert not missing, f"{device}: centre lacks {len(missing)} events, first {missing[:5]}"
    extra = sorted(set(held) - set(produced))
    assert not extra, f"{device}: centre holds seqs the device never made: {extra[:5]}"
    changed = [s for s in produced if held[s] != produced[s]]
    assert not changed, f"{device}: different event ids at seqs {changed[:5]}"
    assert not conflicts, conflicts[:3]
    assert row is not None and row.contiguous_seq == last and row.events == last
    return Delivery(device, last, len(held), row.duplicates, acked)


def now() -> datetime:
    return datetime.now(UTC)
