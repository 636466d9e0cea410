"""Drain a device backlog to the centre (stored and acknowledged) against raw paho QoS 1 publishing.

Both sides use one Mosquitto (TLS listener, client certificates; started here in a temporary
directory, never the system broker) and the same events (``bench.store_append.make_events``):

- ours: a device store holding the backlog; ``DeviceConnection`` + ``Uplink`` (default settings:
  batches of up to 200 events / 64 KiB, 8 in flight) publish it; the centre (``python -m central
  run``, its own process) stores every event in its SQLite file (WAL, synchronous=FULL), commits
  and acknowledges; timed from the uplink's start until the device has applied the centre's
  acknowledgement of the last event.
- raw: a paho-mqtt client publishes the same events one message per event at QoS 1 (the same
  encoding, a one-event batch each; at most 1000 queued in paho, 20 in flight); a subscriber
  process counts them; timed from the first publish until the subscriber has received them all.
  Nothing is stored or acknowledged end to end.

Target: ours drains at least as fast as the raw per-message publish (ratio ours/raw >= 1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.store_append import make_events
from central.store import CentralStore
from device.store import EventStore
from sync import schema, topics
from sync.connection import DeviceConnection
from sync.settings import ConnectionSettings, TlsSettings, UplinkSettings
from sync.uplink import Uplink

TARGET = 1.0
BRANCH, DEVICE, CENTRE, SUBSCRIBER, RAW = "bench", "bench-pad", "centre", "bench-sub", "bench-raw"
TIMEOUT_S = 300.0
RAW_QUEUE = 1000
"""Messages the raw publisher may have queued in paho, not yet PUBACKed (paho sends 20 at once)."""


def _broker(workdir: Path):
    from tests.mqtt_broker import MosquittoBroker  # the shared test broker, not a second copy

    # no ACL; an unlimited queue so that the raw side loses nothing to a slow subscriber
    broker = MosquittoBroker(
        workdir, password_listener=False, persistence=False, max_queued_messages=0
    )
    broker.start()
    return broker


def _tls_args(broker, name: str) -> list[str]:
    cert, key = broker.client_cert(name)
    return ["--ca", str(broker.ca_path), "--cert", str(cert), "--key", str(key)]


class _Lines:
    """Reads a child's stdout lines in a thread; ``wait_for(prefix)`` returns the first match."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append("<eof>")
            self.cond.notify_all()

    def wait_for(self, prefix: str, timeout: float) -> str:
        def found() -> str | None:
            return next((x for x in self.lines if x.startswith((prefix, "<eof>"))), None)

        with self.cond:
            if not self.cond.wait_for(found, timeout):
                raise TimeoutError(f"no {prefix!r} from {self.proc.args[:4]} in {timeout} s")
            line = found()
        if line == "<eof>":
            raise RuntimeError(f"{self.proc.args[:4]} ended early: {self.lines[-5:]}")
        return line


def _child(args: list[str]) -> tuple[subprocess.Popen, _Lines]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env,
    )  # fmt: skip
    return proc, _Lines(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_ours(broker, tmp: Path, n: int) -> dict:
    db = tmp / "device.sqlite"
    with EventStore(db, DEVICE) as store:
        events = make_events(n)
        for i in range(0, n, 5000):
            store.append_many(events[i : i + 5000])
    central_db = tmp / "central.sqlite"
    centre, lines = _child(
        ["-m", "central", "run", "--db", str(central_db), "--host", broker.host,
         "--port", str(broker.tls_port), "--client-id", CENTRE, *_tls_args(broker, CENTRE)]
    )  # fmt: skip
    try:
        lines.wait_for("centre: connected", 30)
        time.sleep(0.2)  # let the SUBSCRIBE be processed before anything is published
        cert, key = broker.client_cert(DEVICE)
        settings = ConnectionSettings(
            broker.host,
            broker.tls_port,
            client_id=DEVICE,
            tls=TlsSettings(broker.ca_path, cert, key),
        )
        connection = DeviceConnection(settings, BRANCH, DEVICE)
        connection.start()
        if not connection.wait_connected(30):
            raise RuntimeError("the device could not connect")
        uplink = Uplink(connection, db, BRANCH, DEVICE, UplinkSettings())
        t0 = time.perf_counter()
        uplink.start()
        done = uplink.wait_acked(n, TIMEOUT_S)
        elapsed = time.perf_counter() - t0
        uplink.stop()
        connection.stop()
        if not done:
            raise RuntimeError(f"ours: only {uplink.acked_seq} of {n} acknowledged in time")
        stats = uplink.stats
    finally:
        _stop(centre)
    with CentralStore(central_db) as central:
        held, contiguous = central.event_count(DEVICE), central.contiguous(DEVICE)
    if (held, contiguous) != (n, n):
        raise RuntimeError(f"ours: the centre holds {held} events, contiguous to {contiguous}")
    return {
        "seconds": elapsed,
        "events_per_s": n / elapsed,
        "detail": f"{stats.batches_sent} batches, {stats.events_sent} events sent, "
        f"{stats.acks_received} acks, {stats.ack_timeouts} ack timeouts",
    }


def run_raw(broker, tmp: Path, n: int) -> dict:
    import paho.mqtt.client as mqtt

    topic = topics.events(BRANCH, RAW)
    sub, lines = _child(
        ["-m", "bench.sync_drain", "--raw-subscriber", broker.host, str(broker.tls_port), topic,
         str(n), *_tls_args(broker, SUBSCRIBER)]
    )  # fmt: skip
    try:
        lines.wait_for("ready", 30)
        payloads = [schema.encode_batch(RAW, [e]) for e in _stored_events(tmp, n)]
        client = broker.paho_client(RAW, protocol=mqtt.MQTTv5)
        # paho numbers messages 1..65535: bound what is queued in the client, or ids collide
        window = threading.BoundedSemaphore(RAW_QUEUE)
        client.on_publish = lambda *_: window.release()
        client.connect(broker.host, broker.tls_port)
        client.loop_start()
        t0 = time.perf_counter()
        for payload in payloads:
            window.acquire()
            client.publish(topic, payload, qos=1)
        lines.wait_for("done", TIMEOUT_S)
        elapsed = time.perf_counter() - t0
        client.disconnect()
        client.loop_stop()
    finally:
        _stop(sub)
    return {"seconds": elapsed, "events_per_s": n / elapsed, "detail": f"{n} messages"}


def _stored_events(tmp: Path, n: int):
    """The same events as ours, as stored (seq, id, ...), read back from a store."""
    with EventStore(tmp / "raw.sqlite", RAW) as store:
        events = make_events(n)
        for i in range(0, n, 5000):
            store.append_many(events[i : i + 5000])
        return store.events()


def raw_subscriber(argv: list[str]) -> int:
    """Child process: subscribe at QoS 1, print ``ready``, then ``done`` after N messages."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    host, port, topic, n, _, ca, _, cert, _, key = argv
    count, done, ready = [0], threading.Event(), threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=SUBSCRIBER, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)

    def on_connect(c, userdata, flags, rc, props) -> None:
        c.subscribe(topic, qos=1)

    def on_subscribe(c, userdata, mid, rcs, props) -> None:
        ready.set()

    def on_message(c, userdata, msg) -> None:
        count[0] += 1
        if count[0] >= int(n):
            done.set()

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect(host, int(port))
    client.loop_start()
    if not ready.wait(30):
        return 1
    print("ready", flush=True)
    done.wait(TIMEOUT_S)
    print(f"done {count[0]}", flush=True)
    client.disconnect()
    client.loop_stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--raw-subscriber"]:
        return raw_subscriber(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.sync_drain", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="backlog size (100000)")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be positive")
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        broker = _broker(Path(tmp) / "broker")
        try:
            ours = run_ours(broker, Path(tmp), args.events)
            raw = run_raw(broker, Path(tmp), args.events)
        finally:
            broker.stop()
    ratio = ours["events_per_s"] / raw["events_per_s"]
    print(f"{args.events} events, Mosquitto on 127.0.0.1 with TLS, centre in its own process")
    print(f"{'':34}{'seconds':>9}{'events/s':>11}")
    print(f"{'ours: drained, stored, acked':34}{ours['seconds']:9.2f}{ours['events_per_s']:11.0f}"
          f"   ({ours['detail']})")  # fmt: skip
    print(f"{'raw paho QoS 1, 1 msg per event':34}{raw['seconds']:9.2f}{raw['events_per_s']:11.0f}"
          f"   ({raw['detail']}, counted by a subscriber)")  # fmt: skip
    verdict = "MET" if ratio >= TARGET else "NOT MET"
    print(f"ratio ours/raw: {ratio:.2f}x; target (at least {TARGET:.0f}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
