"""Drain a device backlog to the centre (stored and acknowledged) against raw paho QoS 1 publishing.

All sides use one Mosquitto (TLS listener, client certificates; started here in a temporary
directory, never the system broker) and the same events (``bench.store_append.make_events``):

- ours: a device store holding the backlog; ``DeviceConnection`` + ``Uplink`` (default settings:
  batches of up to 200 events / 64 KiB, 8 in flight) publish it; the centre (``python -m central
  run``, its own process) stores every event in its SQLite file (WAL, synchronous=FULL), commits
  and acknowledges; timed from the uplink's start until the device has applied the centre's
  acknowledgement of the last event.
- raw, same batches: a paho-mqtt client publishes the very batches the uplink makes (same packing,
  same encoding) at QoS 1 (at most 1000 queued in paho, 20 in flight); a subscriber process counts
  them; timed from the first publish until the subscriber has received them all. Nothing is stored
  or acknowledged end to end: this is the transport alone.
- raw, one event per message: the same, one message per event (a one-event batch each).

The sides take turns in every round, in an order that rotates from round to round, each with a
fresh device identity and a fresh centre store. Target: ours drains at least as fast as the raw
per-message publish (ratio ours/raw >= 1); the ratio to the raw batches shows what storing and
acknowledging end to end cost over the bare transport.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    from bench.branch_rig import BROKER_EXTRA
    from tests.mqtt_broker import MosquittoBroker  # the shared test broker, not a second copy

    # no ACL; an unlimited queue so that the raw side loses nothing to a slow subscriber
    broker = MosquittoBroker(
        workdir,
        password_listener=False,
        persistence=False,
        max_queued_messages=0,
        extra_config=BROKER_EXTRA,
    )
    broker.start()
    return broker


def _tls_args(broker, name: str) -> list[str]:
    cert, key = broker.client_cert(name)
    return ["--ca", str(broker.ca_path), "--cert", str(cert), "--key", str(key)]


class _Lines:
    """Reads a child's stdout lines in a thread; ``wait_for(prefix)`` returns the first match."""

    def __init__(self, proc: subprocess.Popen[str], argv: list[str]) -> None:
        self.proc = proc
        self.argv = argv
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
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
                raise TimeoutError(f"no {prefix!r} from {self.argv[:4]} in {timeout} s")
            line = found()
        assert line is not None  # the wait found it, and lines only grow
        if line == "<eof>":
            raise RuntimeError(f"{self.argv[:4]} ended early: {self.lines[-5:]}")
        return line


def _child(args: list[str]) -> tuple[subprocess.Popen[str], _Lines]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    argv = [sys.executable, *args]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )  # fmt: skip
    return proc, _Lines(proc, argv)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_ours(broker, tmp: Path, n: int, device: str = DEVICE) -> dict:
    db = tmp / f"{device}.sqlite"
    with EventStore(db, device) as store:
        events = make_events(n)
        for i in range(0, n, 5000):
            store.append_many(events[i : i + 5000])
    central_db = tmp / f"central-{device}.sqlite"
    centre, lines = _child(
        ["-m", "central", "run", "--db", str(central_db), "--host", broker.host,
         "--port", str(broker.tls_port), "--client-id", CENTRE, *_tls_args(broker, CENTRE)]
    )  # fmt: skip
    try:
        lines.wait_for("centre: connected", 30)
        time.sleep(0.2)  # let the SUBSCRIBE be processed before anything is published
        cert, key = broker.client_cert(device)
        settings = ConnectionSettings(
            broker.host,
            broker.tls_port,
            client_id=device,
            tls=TlsSettings(broker.ca_path, cert, key),
        )
        connection = DeviceConnection(settings, BRANCH, device)
        connection.start()
        if not connection.wait_connected(30):
            raise RuntimeError("the device could not connect")
        uplink = Uplink(
            connection, lambda: EventStore(db, device), BRANCH, device, UplinkSettings()
        )
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
        held, contiguous = central.event_count(device), central.contiguous(device)
    if (held, contiguous) != (n, n):
        raise RuntimeError(f"ours: the centre holds {held} events, contiguous to {contiguous}")
    return {
        "seconds": elapsed,
        "events_per_s": n / elapsed,
        "detail": f"{stats.batches_sent} batches, {stats.events_sent} events sent, "
        f"{stats.acks_received} acks, {stats.ack_timeouts} ack timeouts",
    }


def _batches(device: str, events: list, settings: UplinkSettings) -> list[bytes]:
    """The events packed as the uplink packs them: up to ``batch_max_events`` events and
    ``batch_max_bytes`` bytes a message."""
    budget = settings.batch_max_bytes - schema.batch_envelope_size(device)
    out: list[bytes] = []
    parts: list[bytes] = []
    used = 0
    for event in events:
        part = schema.encode_event(event)
        extra = len(part) + (1 if parts else 0)
        if parts and (used + extra > budget or len(parts) >= settings.batch_max_events):
            out.append(schema.encode_batch(device, parts))
            parts, used, extra = [], 0, len(part)
        parts.append(part)
        used += extra
    if parts:
        out.append(schema.encode_batch(device, parts))
    return out


def run_raw(broker, tmp: Path, n: int, device: str = RAW, batched: bool = False) -> dict:
    import paho.mqtt.client as mqtt

    # the same length as the events topic, but not one the centre subscribes to: its session would
    # keep the raw messages for it, and the next drain would wait behind them
    topic = "bench" + topics.events(BRANCH, device)[len("bench") :]
    events = _stored_events(tmp, n, device)
    if batched:
        payloads = _batches(device, events, UplinkSettings())
    else:
        payloads = [schema.encode_batch(device, [e]) for e in events]
    subscriber = f"{SUBSCRIBER}-{device}"
    sub, lines = _child(
        ["-m", "bench.sync_drain", "--raw-subscriber", broker.host, str(broker.tls_port), topic,
         str(len(payloads)), *_tls_args(broker, subscriber)]
    )  # fmt: skip
    try:
        lines.wait_for("ready", 30)
        client = broker.paho_client(device, protocol=mqtt.MQTTv5)
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
    return {"seconds": elapsed, "events_per_s": n / elapsed, "detail": f"{len(payloads)} messages"}


def _stored_events(tmp: Path, n: int, device: str):
    """The same events as ours, as stored (seq, id, ...), read back from a store."""
    with EventStore(tmp / f"{device}.sqlite", device) as store:
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
    name = Path(cert).stem  # the certificate's CN is the client id
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
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


SIDES = ("ours", "raw batches", "raw 1/msg")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--raw-subscriber"]:
        return raw_subscriber(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.sync_drain", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000, help="backlog size (50000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every side (3)")
    parser.add_argument("--quick", action="store_true", help="5000 events, 2 rounds")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.events, args.rounds = min(args.events, 5000), min(args.rounds, 2)
    if args.events < 1 or args.rounds < 1:
        parser.error("--events and --rounds must be positive")
    results: dict[str, list[dict]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        broker = _broker(Path(tmp) / "broker")
        try:
            for r in range(args.rounds):
                order = [SIDES[(r + i) % len(SIDES)] for i in range(len(SIDES))]
                print(f"  round {r + 1}: {', '.join(order)}", flush=True)
                for side in order:
                    device = f"bench-{side.replace(' ', '-').replace('/', '-')}-{r + 1}"
                    if side == "ours":
                        result = run_ours(broker, Path(tmp), args.events, device)
                    else:
                        batched = side == "raw batches"
                        result = run_raw(broker, Path(tmp), args.events, device, batched)
                    results[side].append(result)
        finally:
            broker.stop()
    report(results, args)
    return 0


def report(results: dict[str, list[dict]], args) -> None:
    rate = {side: statistics.median(r["events_per_s"] for r in rs) for side, rs in results.items()}
    print(
        f"{args.events} events, {args.rounds} rounds (order rotating), Mosquitto on 127.0.0.1 "
        "with TLS, centre in its own process"
    )
    print(f"{'':36}{'events/s (median)':>18}   by round")
    labels = {
        "ours": "ours: drained, stored, acked",
        "raw batches": "raw paho QoS 1, same batches",
        "raw 1/msg": "raw paho QoS 1, 1 msg per event",
    }
    for side, rs in results.items():
        each = " ".join(f"{r['events_per_s']:.0f}" for r in rs)
        print(f"{labels[side]:36}{rate[side]:18.0f}   {each}   ({rs[-1]['detail']})")
    ratio = rate["ours"] / rate["raw 1/msg"]
    print(f"ratio ours/raw batches: {rate['ours'] / rate['raw batches']:.2f}x (the cost of storing "
          "and acknowledging end to end over the bare transport)")  # fmt: skip
    verdict = "MET" if ratio >= TARGET else "NOT MET"
    print(f"ratio ours/raw 1 msg per event: {ratio:.2f}x; "
          f"target (at least {TARGET:.0f}x): {verdict}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
