"""Fault tests with real processes: after each fault the centre holds every event exactly once,
per-device sequences have no gaps, and the figures are printed (run with ``-s`` to see them).

(a) the broker SIGKILLed and restarted mid-stream, three times;
(b) the network path dropped, blackholed and refused through ``sim.proxy``;
(c) the device process SIGKILLed at random moments 20 times while it appends and publishes;
(d) the centre's consumer down while devices produce more than the broker queues for it
    (``max_queued_messages`` 100, persistent session): recovery through acks and resends.

Set SYNC_FAULT_SEED to replay the random timings of a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from central.ingest import CentralIngest
from device.store import EventStore
from domain.clock import SystemClock
from domain.events import DomainEvent
from sim.proxy import TcpProxy
from sync.settings import UplinkSettings
from tests.mqtt_broker import MosquittoBroker
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import (
    BRANCH,
    CENTRE,
    FAST_UPLINK,
    Delivery,
    Device,
    centre_contiguous,
    check_exactly_once,
    roster,
    start_centre,
    wait_until,
)

DEVICE_PROCESS = Path(__file__).with_name("sync_device.py")
DRAIN_TIMEOUT_S = 60.0


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("SYNC_FAULT_SEED", random.randrange(2**32)))
    print(f"\nfault test seed {seed} (SYNC_FAULT_SEED={seed} to replay)")
    return random.Random(seed)


class Producer:
    """Appends 1-3 events every ``every_s`` to a device's store from its own thread."""

    def __init__(self, device: Device, every_s: float = 0.01, seed: int = 0) -> None:
        self.device = device
        self.every_s = every_s
        self.rng = random.Random(seed)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def start(self) -> Producer:
        self.thread.start()
        return self

    def _run(self) -> None:
        clock = SystemClock()
        try:
            with EventStore(self.device.db, self.device.name) as store:
                n = 0
                while not self.stopped.wait(self.every_s):
                    count = self.rng.randint(1, 3)
                    store.append_many(
                        DomainEvent("test.tick", clock.now(), {"n": n + i}) for i in range(count)
                    )
                    n += count
                    self.device.notify()
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        assert self.error is None, self.error


def drain(devices: list[Device], central_db: Path) -> list[Delivery]:
    """Wait until the centre holds and the devices have released everything; check each."""
    for device in devices:
        last = device.last_seq()
        assert device.uplink.wait_acked(last, DRAIN_TIMEOUT_S), (
            f"{device.name}: acked {device.uplink.acked_seq} of {last}, centre contiguous "
            f"{centre_contiguous(central_db, device.name)}, stats {device.uplink.stats}"
        )
    return [check_exactly_once(central_db, d.db, d.name) for d in devices]


_CAPTURE: list = []


@pytest.fixture(autouse=True)
def _terminal(request):
    _CAPTURE[:] = [request.config.pluginmanager.getplugin("capturemanager")]


def _say(line: str = "") -> None:
    capture = _CAPTURE[0] if _CAPTURE else None
    if capture is None:
        sys.stdout.write(line + "\n")
        return
    with capture.global_and_fixture_disabled():
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def report(title: str, deliveries: list[Delivery], centre: CentralIngest, **extra) -> None:
    """Print the figures where CI shows them (not captured: they are the test's result)."""
    print = _say
    print(f"== {title}")
    for delivery in deliveries:
        print("  " + delivery.line())
    s = centre.stats
    print(
        f"  centre: {s.messages} messages, {s.events_stored} events stored, {s.duplicates} "
        f"duplicates dropped, {s.resend_requests} resend requests, {s.acks_sent} acks"
    )
    for key, value in extra.items():
        print(f"  {key}: {value}")


def uplink_figures(devices: list[Device]) -> dict[str, str]:
    return {
        d.name: (
            f"sent {d.uplink.stats.events_sent} events in {d.uplink.stats.batches_sent} batches, "
            f"sessions {d.uplink.stats.sessions}, ack timeouts {d.uplink.stats.ack_timeouts}, "
            f"resend requests {d.uplink.stats.resend_requests} "
            f"({d.uplink.stats.resent_events} events resent)"
        )
        for d in devices
    }


def test_a_broker_sigkill_and_restart_mid_stream(mqtt_broker, tmp_path: Path, rng) -> None:
    names = ["pad-a", "pad-b"]
    broker = mqtt_broker(acl=roster(*names), persistence=True)
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    devices = [Device(broker, tmp_path, name).start() for name in names]
    producers = [Producer(d, seed=rng.randrange(2**32)).start() for d in devices]
    kills = 0
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.5, 1.2))
            broker.kill()
            kills += 1
            time.sleep(rng.uniform(0.2, 1.0))
            broker.start()
        time.sleep(0.5)
        for producer in producers:
            producer.stop()
        deliveries = drain(devices, tmp_path / "centre.sqlite")
    finally:
        for producer in producers:
            producer.stopped.set()
        for device in devices:
            device.stop()
        centre.stop()
    report("broker SIGKILLed and restarted", deliveries, centre, kills=kills,
           **uplink_figures(devices))  # fmt: skip
    # every link really went down and came back (a device may sleep through a kill while it
    # waits in its reconnect backoff, so not necessarily once per kill)
    assert all(d.uplink.stats.sessions >= 2 for d in devices)
    assert centre.connection.connects >= 2


def test_b_network_dropped_blackholed_refused(mqtt_broker, tmp_path: Path, rng) -> None:
    names = ["pad-a", "pad-b"]
    broker = mqtt_broker(acl=roster(*names))
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    with TcpProxy(broker.host, broker.tls_port) as proxy:
        devices = [Device(broker, tmp_path, n, port=proxy.port).start() for n in names]
        producers = [Producer(d, seed=rng.randrange(2**32)).start() for d in devices]
        try:
            time.sleep(rng.uniform(0.5, 1.0))
            assert proxy.drop() == 2  # connections reset
            time.sleep(rng.uniform(0.5, 1.0))
            proxy.blackhole()  # silent: keepalive (2 s) must notice
            before = [d.uplink.stats.sessions for d in devices]
            time.sleep(4.5)
            proxy.restore()
            wait_until(
                lambda: all(
                    d.uplink.stats.sessions > b for d, b in zip(devices, before, strict=True)
                ),
                15,
                "reconnects after the blackhole",
            )
            time.sleep(rng.uniform(0.3, 0.8))
            proxy.cut()  # refused for a while
            time.sleep(1.5)
            proxy.restore()
            time.sleep(0.5)
            for producer in producers:
                producer.stop()
            deliveries = drain(devices, tmp_path / "centre.sqlite")
        finally:
            for producer in producers:
                producer.stopped.set()
            for device in devices:
                device.stop()
            centre.stop()
        report("network dropped, blackholed, refused", deliveries, centre,
               proxy=f"{proxy.accepted} connections accepted, {proxy.dropped} dropped",
               **uplink_figures(devices))  # fmt: skip
    assert all(d.uplink.stats.sessions >= 4 for d in devices)


def _device_process(broker: MosquittoBroker, db: Path, name: str, append_ms: float, seed: int):
    cert, key = broker.client_cert(name)
    args = [db, name, BRANCH, broker.host, broker.tls_port, broker.ca_path, cert, key]
    return subprocess.Popen(
        [sys.executable, str(DEVICE_PROCESS), *map(str, args), "--append-ms", str(append_ms),
         "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip


def _read_lines(proc: subprocess.Popen, lines: list[str], ready: threading.Event) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line == "ready\n":
            ready.set()


def test_c_device_process_sigkilled_mid_batch_20_times(mqtt_broker, tmp_path: Path, rng) -> None:
    name = "pad-k"
    broker = mqtt_broker(acl=roster(name))
    central_db = tmp_path / "centre.sqlite"
    centre = start_centre(broker, central_db)
    db = tmp_path / f"{name}.sqlite"
    reported = 0
    lives = 20
    try:
        for life in range(lives + 1):
            draining = life == lives  # the last life appends nothing and is stopped cleanly
            proc = _device_process(broker, db, name, 0 if draining else 3, rng.randrange(2**32))
            lines: list[str] = []
            ready = threading.Event()
            reader = threading.Thread(target=_read_lines, args=(proc, lines, ready), daemon=True)
            reader.start()
            try:
                assert ready.wait(20), f"life {life}: the device process did not start"
                if draining:
                    with EventStore(db, name) as store:
                        last = store.last_seq()
                    wait_until(_acked_up_to(db, name, last), DRAIN_TIMEOUT_S, "the drain")
                    proc.send_signal(signal.SIGTERM)
                    assert proc.wait(10) == 0
                else:
                    time.sleep(rng.uniform(0.1, 0.7))
                    proc.send_signal(signal.SIGKILL)
                    assert proc.wait(10) == -signal.SIGKILL
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
                reader.join(5)
                proc.stdout.close()
            seqs = [int(line.split()[1]) for line in lines if line.startswith("appended ")]
            reported = max([reported, *seqs])
        delivery = check_exactly_once(central_db, db, name)
    finally:
        centre.stop()
    report(f"device process SIGKILLed {lives} times", [delivery], centre,
           reported_by_the_device=reported)  # fmt: skip
    assert delivery.produced >= reported > lives  # every reported event is held exactly once
    assert centre.stats.duplicates > 0  # the kills really cut batches short of their ack


def _acked_up_to(db: Path, name: str, last: int) -> Callable[[], bool]:
    def done() -> bool:
        with EventStore(db, name) as store:
            return store.acked_seq() >= last

    return done


def test_d_centre_down_past_the_broker_queue_limit(mqtt_broker, tmp_path: Path, rng) -> None:
    names = ["pad-a", "pad-b", "pad-c"]
    broker = mqtt_broker(acl=roster(*names), max_queued_messages=100)
    central_db = tmp_path / "centre.sqlite"
    start_centre(broker, central_db).stop()  # the persistent session exists from now on
    small_batches = UplinkSettings(
        batch_max_events=5,
        max_inflight=4,
        max_unacked_events=100_000,
        ack_timeout_s=2.0,
        ack_timeout_max_s=4.0,
        refused=FAST_UPLINK.refused,
        poll_s=0.2,
    )
    devices = [Device(broker, tmp_path, n, uplink_settings=small_batches).start() for n in names]
    producers = [Producer(d, every_s=0.02, seed=rng.randrange(2**32)).start() for d in devices]
    centre = None
    try:
        wait_until(
            lambda: sum(d.uplink.stats.batches_sent for d in devices) > 300,
            30,
            "more batches than the broker queues for the absent centre",
        )
        assert "Outgoing messages are being dropped for client centre" in broker.log_text()
        assert all(d.uplink.acked_seq == 0 for d in devices)
        centre = start_centre(broker, central_db)  # same client id: the session's queue arrives
        time.sleep(rng.uniform(1.0, 2.0))  # devices keep producing meanwhile
        for producer in producers:
            producer.stop()
        deliveries = drain(devices, central_db)
    finally:
        for producer in producers:
            producer.stopped.set()
        for device in devices:
            device.stop()
        if centre is not None:
            centre.stop()
    dropped = broker.log_text().count("Outgoing messages are being dropped")
    report("centre down past max_queued_messages=100", deliveries, centre,
           broker=f"logged dropping for the centre {dropped} time(s)",
           **uplink_figures(devices))  # fmt: skip
    recovered = sum(d.uplink.stats.resent_events + d.uplink.stats.ack_timeouts for d in devices)
    assert recovered > 0  # the broker's drops were repaired end to end
    assert centre.connection.settings.client_id == CENTRE
